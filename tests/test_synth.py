"""`slt synth`: the toy sign language, its synthetic signers and the corpus on disk."""

import csv
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import slt_process

from slt import synth
from slt.cli import app
from slt.keypoints import schema
from slt.keypoints.io import read_parquet
from slt.synth import language, motion, signers

SIZES = {"train": 40, "dev": 6, "test": 6}


def run_synth(out, *args):
    sizes = [f"--{split}={n}" for split, n in SIZES.items()]
    return CliRunner().invoke(app, ["synth", str(out), *sizes, "--signers=3", *args])


def read_rows(out):
    with open(out / "annotations.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "corpus"
    result = run_synth(out, "--seed=7")
    assert result.exit_code == 0, result.output
    return out


def test_corpus_is_readable_with_the_expected_splits_and_shapes(corpus):
    rows = read_rows(corpus)
    assert list(rows[0]) == ["name", "text", "split", "signer", "gloss"]
    assert {s: sum(r["split"] == s for r in rows) for s in SIZES} == SIZES
    for row in rows:
        assert row["name"].startswith(row["split"] + "/")
        kp = read_parquet(corpus / "keypoints" / f"{row['name']}.parquet")
        assert kp.points.shape[1:] == (75, 3) and kp.parts == schema.DEFAULT_PARTS and kp.fps == 25
        assert kp.info["source"] == "synthetic" and kp.info["seed"] == 7 and kp.info["signer"] == row["signer"]
        # At least a rest, a transition and a sign of 5 frames per sign, and a rest again.
        assert kp.num_frames >= 5 * len(row["gloss"].split()) + 12
        # Normalized image coordinates. Like MediaPipe's, pose points may lie outside the frame (legs, a
        # hand below the frame edge) but detected hands lie inside it.
        head_arms_hands = np.concatenate([kp.part("pose")[:, :15], kp.part("left_hand"), kp.part("right_hand")], 1)
        xy = head_arms_hands[..., :2][np.isfinite(head_arms_hands[..., :2])]
        assert ((xy > 0) & (xy < 1)).all()
        assert np.nanmax(np.abs(kp.part("right_hand")[..., 2])) < 0.3  # hand depth, relative to the wrist
        assert np.isfinite(kp.part("pose")).all()


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(corpus, tmp_path):
    assert run_synth(tmp_path / "again", "--seed=7").exit_code == 0
    assert run_synth(tmp_path / "other", "--seed=8").exit_code == 0
    files = sorted(p.relative_to(corpus) for p in corpus.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    for path in files:
        assert (corpus / path).read_bytes() == (tmp_path / "again" / path).read_bytes(), path
    assert read_rows(corpus) != read_rows(tmp_path / "other")
    clip = "train/train-00000.parquet"
    assert (corpus / "keypoints" / clip).read_bytes() != (tmp_path / "other" / "keypoints" / clip).read_bytes()


def test_held_out_sentences_are_new_combinations_of_known_signs():
    clips = synth.toy_clips(train=1500, dev=150, test=150, signers=4, seed=0)
    train = [c for c in clips if c.split == "train"]
    held_out = [c for c in clips if c.split != "train"]
    train_signs = {s for c in train for s in c.gloss.split()}
    assert not {c.text for c in held_out} & {c.text for c in train}
    assert not {c.gloss for c in held_out} & {c.gloss for c in train}
    assert all(set(c.gloss.split()) <= train_signs for c in held_out)
    assert len({c.text for c in clips}) == len(clips)


def test_language_has_enough_signs_each_with_its_own_motion():
    assert len(language.LEXICON) >= 150
    assert all(re.fullmatch(r"[A-Z]+(-[A-Z]+)*", gloss) for gloss in language.LEXICON)
    motions = motion.sign_motions(language.LEXICON)
    forms = {(m.handshape, m.orientation, m.location, m.movement, m.hands) for m in motions.values()}
    assert len(forms) == len(language.LEXICON)
    # A motion depends on its gloss alone (barring a hash clash), whatever else the table holds.
    assert motion.sign_motions(["APPLE", "X-1", "X-2"])["APPLE"] == motions["APPLE"]


def test_sign_order_differs_from_english_word_order():
    def reordered(clip):
        words = re.findall(r"[a-z]+", clip.text.lower())
        found = [words.index(language.LEXICON[s]) for s in clip.gloss.split() if language.LEXICON[s] in words]
        return any(b < a for a, b in zip(found, found[1:]))

    clips = synth.toy_clips(train=400, dev=0, test=0, signers=1, seed=1)
    assert np.mean([reordered(c) for c in clips]) > 0.6
    assert all(3 <= len(c.gloss.split()) <= 7 for c in clips)


def test_signs_are_recognizable_across_signers():
    """Nearest neighbour over shoulder-normalized hand trajectories of each sign, performed by one signer
    and looked up among the same signs performed by another, must find the right sign."""
    motions = motion.sign_motions(language.LEXICON)
    rng = np.random.default_rng(0)

    def trajectories(signer):
        signer = dataclasses.replace(signer, dropouts=0.0)
        features = []
        for sign in motions.values():
            states = sign.states(sign.frames, amplitude=rng.uniform(0.85, 1.15), offset=rng.normal(0, 0.03, 3))
            points = signers.render_signer(states, signer, rng)[..., :2] * (signer.width, signer.height)
            shoulders = points[:, [11, 12]]
            width = np.linalg.norm(shoulders[:, 0] - shoulders[:, 1], axis=1)[:, None, None]
            hands = (points[:, 33:] - shoulders.mean(1, keepdims=True)) / width
            hands = np.nan_to_num(hands)  # a resting hand may be below the frame
            features.append(hands[np.linspace(0, len(hands) - 1, 12).round().astype(int)].ravel())
        return np.stack(features)

    a, b = (trajectories(signers.Signer.random(name, rng)) for name in "ab")
    nearest = ((a[:, None] - b[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == np.arange(len(motions))).mean() > 0.85


def test_hand_detections_drop_out_for_a_few_frames(corpus):
    lost, gaps = [], 0
    for path in (corpus / "keypoints" / "train").glob("*.parquet"):
        missing = np.isnan(read_parquet(path).part("right_hand")).all(axis=(1, 2))
        assert (np.isnan(read_parquet(path).part("right_hand")).any(axis=(1, 2)) == missing).all()  # whole hand
        lost.append(missing.mean())
        gaps += np.sum(np.diff(missing.astype(int)) == 1)
    assert 0.005 < np.mean(lost) < 0.3 and gaps >= 5


PHOENIX = """name|video|start|end|speaker|orth|translation
01April_2010_Thursday_heute-6694|01April_2010_Thursday_heute-6694/1/*.png|-1|-1|Signer04|REGEN WOLKE NORD|im norden regnet es .
01April_2010_Thursday_heute-6695|01April_2010_Thursday_heute-6695/1/*.png|-1|-1|Signer01|MORGEN SONNE SUED|morgen scheint im süden die sonne .
02April_2010_Friday_tagesschau-1|02April_2010_Friday_tagesschau-1/1/*.png|-1|-1|Signer04|REGEN WOLKE NORD|im norden regnet es wieder .
"""


def test_from_table_synthesizes_a_phoenix_corpus_file(tmp_path):
    table = tmp_path / "PHOENIX-2014-T.dev.corpus.csv"
    table.write_text(PHOENIX, encoding="utf-8")
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "out"), "--from-table", str(table)])
    assert result.exit_code == 0, result.output
    rows = read_rows(tmp_path / "out")
    assert [r["name"] for r in rows] == ["dev/01April_2010_Thursday_heute-6694", "dev/01April_2010_Thursday_heute-6695",
                                         "dev/02April_2010_Friday_tagesschau-1"]  # fmt: skip
    assert [r["signer"] for r in rows] == ["Signer04", "Signer01", "Signer04"]
    assert rows[1]["gloss"] == "MORGEN SONNE SUED" and rows[1]["text"] == "morgen scheint im süden die sonne ."
    clips = [read_parquet(tmp_path / "out" / "keypoints" / f"{r['name']}.parquet") for r in rows]
    assert all(kp.info["gloss"] == r["gloss"] for kp, r in zip(clips, rows))


def test_from_table_reads_a_plain_gloss_text_csv_and_rejects_rows_without_gloss(tmp_path):
    table = tmp_path / "pairs.csv"
    table.write_text("gloss,text\nHELLO WORLD,hello world\nBYE,goodbye\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "out"), "--from-table", str(table)])
    assert result.exit_code == 0, result.output
    rows = read_rows(tmp_path / "out")
    assert [(r["gloss"], r["text"]) for r in rows] == [("HELLO WORLD", "hello world"), ("BYE", "goodbye")]
    assert all(r["split"] in synth.SPLITS for r in rows)

    table.write_text("gloss,text\n,hello world\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "bad"), "--from-table", str(table)])
    assert result.exit_code == 1 and "no gloss" in result.output and "Traceback" not in result.output


def test_text_gives_more_sentences_of_the_language_but_never_a_held_out_one(corpus, tmp_path):
    """`--text N` writes N more toy-language sentences for a made LLM; the clips stay byte-identical."""
    out = tmp_path / "corpus"
    result = run_synth(out, "--seed=7", "--text=300")
    assert result.exit_code == 0 and "300 more sentences to text.txt" in result.output, result.output
    texts = (out / "text.txt").read_text(encoding="utf-8").splitlines()
    rows = read_rows(out)
    assert len(texts) == 300 and len(set(texts)) > 200
    assert not set(texts) & {r["text"] for r in rows if r["split"] != "train"}
    assert rows == read_rows(corpus) and not (corpus / "text.txt").exists()
    first = sorted((corpus / "keypoints" / "train").glob("*.parquet"))[0]
    assert (out / first.relative_to(corpus)).read_bytes() == first.read_bytes()


def test_bad_arguments_fail_with_one_line(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("gloss,text\nA B,a b\n")
    for args in (["--train=-1"], ["--from-table", str(tmp_path / "missing.csv")], ["--text=-5"], ["--from-table", str(table), "--text=10"]):
        result = CliRunner().invoke(app, ["synth", str(tmp_path / "out"), *args])
        assert result.exit_code == 1 and result.output.startswith("error: ") and result.output.count("\n") == 1


# --- The realistic style (`--from-table`'s default) ------------------------------------------------

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def realistic_corpus(out, clips_per_signer=6, signers=5):
    motions = motion.sign_motions(language.LEXICON)
    one_handed = " ".join([g for g, m in sorted(motions.items()) if m.hands == "one" and m.movement != "hold"][:5])
    clips = [
        synth.Clip(f"train/s{s}-{i}", "text", "train", f"signer{s}", one_handed)
        for s in range(signers) for i in range(clips_per_signer)
    ]  # fmt: skip
    return synth.write_corpus(out, clips, seed=3, style="realistic"), clips


def test_realistic_style_has_a_left_handed_signer_whose_left_hand_signs(tmp_path):
    summary, clips = realistic_corpus(tmp_path)
    assert summary.left_handed == 1  # one in ten, and the 4th signer of 5: signer3
    for clip in clips:
        kp = read_parquet(tmp_path / "keypoints" / f"{clip.name}.parquet")
        travel = {hand: np.nansum(np.linalg.norm(np.diff(kp.part(hand)[:, 0, :2], axis=0), axis=1)) for hand in ("left_hand", "right_hand")}
        dominant = "left_hand" if clip.signer == "signer3" else "right_hand"
        assert travel[dominant] > 1.5 * min(travel.values()), (clip.name, travel)


def test_realistic_style_frames_each_clip_anew_and_clean_style_does_not(tmp_path):
    def shoulder_widths(style):
        clips = [synth.Clip(f"train/c{i}", "t", "train", "signer1", "RAIN SUN") for i in range(12)]
        synth.write_corpus(tmp_path / style, clips, seed=1, style=style)
        widths = []
        for clip in clips:
            pose = read_parquet(tmp_path / style / "keypoints" / f"{clip.name}.parquet").part("pose")
            widths.append(np.median(np.linalg.norm(pose[:, 11, :2] - pose[:, 12, :2], axis=1)))
        return np.std(widths) / np.mean(widths)

    assert shoulder_widths("realistic") > 0.04 > shoulder_widths("clean")


def test_realistic_style_renders_clips_as_long_as_real_signing(tmp_path):
    """PHOENIX-2014T's clips average about 14.6 frames (25 fps) per gloss: 114 frames for 7.8 glosses."""
    table = CORPORA / "PHOENIX-2014-T.dev.corpus.csv"
    if not table.is_file():
        pytest.skip(f"the published PHOENIX-2014T tables are not in {CORPORA}")
    lines = table.read_text(encoding="utf-8").splitlines()[:101]
    (tmp_path / "PHOENIX-2014-T.dev.corpus.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "out"), "--from-table", str(tmp_path / "PHOENIX-2014-T.dev.corpus.csv")])
    assert result.exit_code == 0, result.output
    frames = glosses = 0
    for row in read_rows(tmp_path / "out"):
        kp = read_parquet(tmp_path / "out" / "keypoints" / f"{row['name']}.parquet")
        assert kp.info["style"] == "realistic"
        frames, glosses = frames + kp.num_frames, glosses + len(row["gloss"].split())
    assert 11 < frames / glosses < 18


@pytest.mark.slow
def test_unknown_style_is_one_line(tmp_path):
    result = slt_process("synth", tmp_path / "out", "--style", "gritty")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "'gritty' is not one of 'clean', 'realistic'" in result.stderr and not (tmp_path / "out").exists()
