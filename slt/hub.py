"""Sharing runs on the Hugging Face Hub: `push` uploads a run folder with a model card (`model_card`), and
`run_folder` finds the run a name means: a local folder, or a hub id's snapshot in the Hub cache
(downloaded first when the Hub can be reached; with HF_HUB_OFFLINE=1, the cache alone).

What is uploaded is the run folder as `slt.run` describes it, minus `resume/` (the optimizer state for
continuing training, as large as the model again and of no use for translating) and hidden files.

slt's model modules (torch) are imported inside the functions: `slt translate` calls `run_folder` before
it starts reading clips, which must not wait for torch.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from slt.files import atomic_write

UPLOAD_IGNORE = ["resume/*", ".*", "*/.*"]
CARD = "README.md"
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
TAGS = ["sign-language-translation", "sign-language", "keypoints", "mediapipe", "fla-llm", "slt"]
CITATION = """@inproceedings{chen2024factorized,
  title = {Factorized Learning Assisted with Large Language Model for Gloss-free Sign Language Translation},
  author = {Chen, Zhigang and Zhou, Benjia and Li, Jun and Wan, Jun and Lei, Zhen and Jiang, Ning and Lu, Quan and Zhao, Guoqing},
  booktitle = {Proceedings of the 2024 Joint International Conference on Computational Linguistics, Language Resources and Evaluation (LREC-COLING 2024)},
  year = {2024},
  eprint = {2403.12556},
  archivePrefix = {arXiv}
}"""


def run_folder(name: str | Path) -> Path:
    """The local folder of the run `name`: the folder itself, or the Hub cache's snapshot of a hub id."""
    path = Path(name).expanduser()
    if path.exists() or not HUB_ID.fullmatch(str(name)):
        return path
    from huggingface_hub import snapshot_download

    from slt.model.llm import hub_unreachable

    offline = hub_unreachable()
    try:
        return Path(snapshot_download(str(name), local_files_only=offline))
    except Exception as error:  # huggingface_hub raises several types: not cached, no such repo, HTTP errors
        where = "the Hub cache (the Hub cannot be reached, or HF_HUB_OFFLINE is set)" if offline else "the Hugging Face Hub"
        raise FileNotFoundError(f"{name} is neither a run folder nor a model in {where}: {error}") from None


def push(run_dir: Path, repo: str, private: bool = False, datasets: list[str] | None = None) -> str:
    """Write the run's model card into it (README.md), then upload the run to the Hub repo `repo` (created
    if new); returns the repo's URL. Fails in one line within seconds when the Hub cannot be reached."""
    from slt.model.llm import hub_unreachable
    from slt.run import load_config

    load_config(run_dir)  # one line for a folder that is not a run
    weights = ("model.safetensors", "visual.safetensors")
    if not any((run_dir / name).is_file() for name in weights):
        raise FileNotFoundError(f"{run_dir} has no trained model yet (no {' or '.join(weights)})")
    if not HUB_ID.fullmatch(repo):
        raise ValueError(f"--repo takes USER/NAME, got {repo!r}")
    endpoint = os.environ.get("HF_ENDPOINT") or None  # read now, not when huggingface_hub was imported
    if hub_unreachable():
        raise ConnectionError(
            f"the Hugging Face Hub ({endpoint or 'https://huggingface.co'}) cannot be reached, or HF_HUB_OFFLINE is set; push when online"
        )
    card = model_card(run_dir, repo, datasets)
    atomic_write(run_dir / CARD, lambda tmp: Path(tmp).write_text(card))
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint)
    url = api.create_repo(repo, private=private, exist_ok=True)
    api.upload_folder(repo_id=repo, folder_path=run_dir, ignore_patterns=UPLOAD_IGNORE, commit_message="Upload an slt run")
    return str(url)


def trained(training: dict) -> str:
    """A sentence on the run's training time, hardware and size from its `training.json`."""
    if not training:
        return "Training time and hardware are not recorded in the run."
    return (
        f"Trained on {training['train_clips']:,} clips (dev: {training['dev_clips']:,}) for {training['epochs']} epochs "
        f"({training['steps']:,} steps) in {training['seconds'] / 60:.1f} minutes on {training['hardware']}, "
        f"{training['processes']} process(es), torch {training['torch']}."
    )


def model_card(run_dir: Path, repo: str, datasets: list[str] | None = None) -> str:
    """The Hub model card of a run: metadata, test scores with their sacrebleu signature, split sizes, the
    keypoints it reads, both stages' configs, how to use it, its limits, and the FLa-LLM citation."""
    from huggingface_hub import ModelCard, ModelCardData

    from slt.run import load_config, read_keypoints_info

    config = load_config(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").is_file() else {}
    keypoints = read_keypoints_info(run_dir)
    training = json.loads((run_dir / "training.json").read_text()) if (run_dir / "training.json").is_file() else {}
    data = ModelCardData(library_name="slt", tags=TAGS, datasets=datasets or None, metrics=["bleu", "rouge", "chrf"])
    if config.stage == 1:
        model = f"stage 1 of FLa-LLM: a keypoint encoder (ST-GCN) and Light-T `{config.model.preset}`"
    else:
        model = f"stage 2 of FLa-LLM: the stage-1 keypoint encoder, an MLP adapter and the LLM `{public(config.stage2.llm)}` ({config.stage2.finetune})"
    rows = [
        f"| {split} | {m.get('clips', '')} | {m['bleu4']:.2f} | {m['bleu1']:.2f} | {m['rouge_l']:.2f} | {m['chrf']:.2f} |"
        for split, m in metrics.items()
    ]
    signature = next((m["signature"] for m in metrics.values() if "signature" in m), "not scored yet")
    configs = [("This run", public(config.to_dict()))]
    first = Path(config.stage2.init) if config.stage == 2 and config.stage2.init else None
    if first and (first / "config.json").is_file():
        configs.append(("Its stage-1 run", public(load_config(first).to_dict())))
    config_text = "\n\n".join(f"{title}:\n\n```json\n{json.dumps(values, indent=2)}\n```" for title, values in configs)
    synthetic = keypoints.get("extractor") == "slt synth"
    body = f"""# {repo.split("/")[-1]}

Gloss-free sign language translation from body keypoints, trained with slt ({model}).
It reads the pose and both hands of MediaPipe Holistic (model complexity 1) and writes a sentence.

## How to use

```python
from slt import Translator
translator = Translator.from_pretrained("{repo}")
print(translator("clip.mp4").text)
```

or `slt translate clip.mp4 --model {repo}`.

## Scores

| split | clips | BLEU-4 | BLEU-1 | ROUGE-L | chrF |
|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

sacrebleu: `{signature}`

## Training data and keypoints

Annotations: {", ".join(f"`{Path(a).name}`" for a in config.data.annotations or []) or "not recorded"}; splits
`{config.data.train_split}` / `{config.data.dev_split}` / `{config.data.test_split}`. Keypoints made with
{keypoints.get("extractor") or "an unrecorded extractor"} {keypoints.get("extractor_version") or ""} (model complexity
{keypoints.get("model_complexity") or "not recorded"}), at {keypoints.get("fps") or "unrecorded"} fps; normalization:
`{json.dumps(keypoints.get("normalize") or {})}`. {trained(training)}

## Intended use and limitations

Research on sign language translation. The model knows only the signers, sign language, vocabulary and
recording conditions of its training data, and translates one sentence per clip; it reads no face
landmarks (mouthing, facial grammar). Keypoints from another extractor than the one above read worse.
{"It was trained on synthetic signing (`slt synth`): it does not translate real signing." if synthetic else ""}
It is no substitute for an interpreter.

## Configs

{config_text}

## Citation

```bibtex
{CITATION}
```
"""
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def public(value):
    """`value` (a config, or one of its values) with each absolute path cut to its last name: where the run
    was trained is nobody else's business, and means nothing elsewhere."""
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public(v) for v in value]
    return Path(value).name if isinstance(value, str) and os.path.isabs(value) else value
