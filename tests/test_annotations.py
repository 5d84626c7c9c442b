import pytest

from slt.data.annotations import Sample, check_keypoints, read_annotations, split_from_filename


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_generic_csv_and_tsv(tmp_path):
    csv = write(
        tmp_path / "annotations.csv",
        'name,text,split,signer,gloss\n'
        'a/clip1,"Hello, world",train,s1,HELLO WORLD\n'
        '\n'
        'a/clip2,Bye,val,,\n',
    )  # fmt: skip
    tsv = tmp_path / "more.tsv"  # as spreadsheet programs export it: byte order mark, CRLF line ends
    tsv.write_bytes("\ufeffText\tName\r\nGood night\tb/clip3\r\n".encode())
    samples = read_annotations([csv, tsv])
    assert samples == [
        Sample("a/clip1", "Hello, world", "train", "s1", "HELLO WORLD"),
        Sample("a/clip2", "Bye", "dev", None, None),
        Sample("b/clip3", "Good night", None, None, None),
    ]


def test_phoenix_corpus_file(tmp_path):
    path = write(
        tmp_path / "PHOENIX-2014-T.dev.corpus.csv",
        "name|video|start|end|speaker|orth|translation\n"
        "01April_2010_Thursday_heute-6694|01April_2010_Thursday_heute-6694/1/*.png|-1|-1|Signer04|"
        'WETTER MORGEN|und nun die wettervorhersage für morgen "donnerstag"\n',
    )
    [sample] = read_annotations(path)
    assert sample == Sample(
        "01April_2010_Thursday_heute-6694", 'und nun die wettervorhersage für morgen "donnerstag"', "dev",
        "Signer04", "WETTER MORGEN",
    )  # fmt: skip


def test_csl_daily_labels(tmp_path):
    path = write(
        tmp_path / "csl_daily_train.txt",
        "name|signer|num_frames|gloss|text\nS000000_P0000_T00|0|120|你 好|你好。\nS000001_P0001_T00|1|98|谢谢|谢谢你！\n",
    )
    samples = read_annotations(path)
    assert [(s.name, s.text, s.split, s.signer, s.gloss) for s in samples] == [
        ("S000000_P0000_T00", "你好。", "train", "0", "你 好"),
        ("S000001_P0001_T00", "谢谢你！", "train", "1", "谢谢"),
    ]


def test_how2sign_realigned(tmp_path):
    header = "VIDEO_ID\tVIDEO_NAME\tSENTENCE_ID\tSENTENCE_NAME\tSTART_REALIGNED\tEND_REALIGNED\tSENTENCE\n"
    row = '-fZc293MpJk\t-fZc293MpJk-1-rgb_front\t-fZc293MpJk_0\t-fZc293MpJk_0-1-rgb_front\t0.0\t1.5\t"Hi," I said.\n'
    [sample] = read_annotations(write(tmp_path / "how2sign_realigned_val.csv", header + row))
    assert sample == Sample("-fZc293MpJk_0-1-rgb_front", '"Hi," I said.', "dev")


@pytest.mark.parametrize(
    "content, message",
    [
        ("name,text\nc1,hi\nc2,  \n", "t.csv:3: empty text for clip 'c2'"),
        ("name,text\nc1,hi\nc2,yo\nc1,again\n", "t.csv:4: duplicate clip name 'c1' (first at "),
        ("name,text,split\nc1,hi,training\n", "t.csv:2: unknown split 'training'"),
        ("clip,sentence\nc1,hi\n", "t.csv:1: no name and text columns"),
        ("name,text\nc1,hi,extra\n", "t.csv:2: 3 fields where the header has 2"),
    ],
)
def test_errors_name_file_and_line(tmp_path, content, message):
    with pytest.raises(ValueError) as error:
        read_annotations(write(tmp_path / "t.csv", content))
    assert message in str(error.value)


def test_duplicates_across_files(tmp_path):
    train = write(tmp_path / "PHOENIX-2014-T.train.corpus.csv", "name|orth|translation\nc1|A|eins\n")
    test = write(tmp_path / "PHOENIX-2014-T.test.corpus.csv", "name|orth|translation\nc2|B|zwei\nc1|A|eins\n")
    with pytest.raises(ValueError, match=r"test.corpus.csv:3: duplicate clip name 'c1' \(first at .*train.corpus.csv:2\)"):
        read_annotations([train, test])


def test_split_from_filename():
    assert split_from_filename("PHOENIX-2014-T.train.corpus.csv") == "train"
    assert split_from_filename("how2sign_realigned_test.csv") == "test"
    assert split_from_filename("how2sign_realigned_val.csv") == "dev"
    assert split_from_filename("annotations.csv") is None


def test_check_keypoints(tmp_path):
    samples = [Sample(f"s/clip{i}", "x", "train") for i in range(8)]
    (tmp_path / "s").mkdir()
    for i in (0, 3):
        (tmp_path / f"s/clip{i}.parquet").touch()
    with pytest.raises(FileNotFoundError) as error:
        check_keypoints(tmp_path, samples)
    assert "6 of 8 keypoint files missing" in str(error.value)
    assert "s/clip1, s/clip2, s/clip4, s/clip5, s/clip6, ..." in str(error.value)
    assert "--skip-missing" in str(error.value)
    present, missing = check_keypoints(tmp_path, samples, skip_missing=True)
    assert [s.name for s in present] == ["s/clip0", "s/clip3"]
    assert len(missing) == 6
