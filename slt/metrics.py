"""Translation metrics: BLEU-1..4, ROUGE-L and chrF on decoded sentences.

BLEU and chrF come from sacrebleu (corpus level, one reference per clip), so scores are comparable with
other work; `Scores.signature` records sacrebleu's settings next to every number. BLEU-n is sacrebleu's
BLEU with `max_ngram_order=n` (brevity penalty times the geometric mean of the 1..n-gram precisions),
the definition sign language translation papers report. ROUGE-L is the sentence-level LCS F-measure
(beta 1.2, as in Lin 2004 and the sign language translation codebases) averaged over clips, computed on
the same sacrebleu tokens as BLEU. Scores are percentages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

TOKENIZERS = {"13a": Tokenizer13a, "zh": TokenizerZh}


@dataclass
class Scores:
    bleu1: float
    bleu2: float
    bleu3: float
    bleu4: float
    rouge_l: float
    chrf: float
    signature: str  # sacrebleu's BLEU and chrF signatures

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Scores:
        """Scores from a `metrics.json` entry (extra keys such as "clips" are ignored)."""
        return cls(**{f.name: values[f.name] for f in fields(cls)})


def detect_tokenize(references: list[str]) -> str:
    """'zh' when most characters of the references are CJK ideographs, else '13a'."""
    text = "".join(references)
    letters = [c for c in text if not c.isspace()]
    cjk = sum("\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" for c in letters)
    return "zh" if letters and cjk > len(letters) / 2 else "13a"


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(hypothesis: list[str], reference: list[str], beta: float = 1.2) -> float:
    """Sentence ROUGE-L F-measure in [0, 1] of two token lists."""
    lcs = lcs_length(hypothesis, reference)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(hypothesis), lcs / len(reference)
    return (1 + beta**2) * precision * recall / (recall + beta**2 * precision)


def score(hypotheses: list[str], references: list[str], tokenize: str = "auto") -> Scores:
    """Corpus scores of decoded `hypotheses` against one reference each.

    `tokenize`: sacrebleu's '13a' (default for alphabetic languages), 'zh' (Chinese, character level) or
    'auto' to pick from the references.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not references:
        raise ValueError("no sentences to score")
    if tokenize == "auto":
        tokenize = detect_tokenize(references)
    if tokenize not in TOKENIZERS:
        raise ValueError(f"unknown tokenization {tokenize!r}; choose one of {['auto', *TOKENIZERS]}")
    bleus = []
    for order in range(1, 5):
        bleu = BLEU(max_ngram_order=order, tokenize=tokenize)
        bleus.append(bleu.corpus_score(hypotheses, [references]).score)
    chrf = CHRF()
    chrf_score = chrf.corpus_score(hypotheses, [references]).score
    tokenizer = TOKENIZERS[tokenize]()
    rouge = sum(rouge_l(tokenizer(h).split(), tokenizer(r).split()) for h, r in zip(hypotheses, references))
    return Scores(
        *(round(b, 2) for b in bleus),
        rouge_l=round(100 * rouge / len(references), 2),
        chrf=round(chrf_score, 2),
        signature=f"BLEU {bleu.get_signature()} chrF {chrf.get_signature()}",
    )


def score_groups(rows: list[dict], group_of: dict[str, str], tokenize: str = "auto") -> dict:
    """Scores of decoded `rows` (name, reference, hypothesis) per group, `group_of` mapping a clip's name
    to its group (its signer): each group's scores and clip count, their macro average, and the worst
    group by BLEU-4. A corpus score can hide a signer the model fails; the worst group shows it."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(group_of[row["name"]], []).append(row)
    scored = {}
    for group, members in sorted(groups.items()):
        scores = score([r["hypothesis"] for r in members], [r["reference"] for r in members], tokenize).as_dict()
        del scores["signature"]  # the split's, the same for every group
        scored[group] = {**scores, "clips": len(members)}
    keys = [f.name for f in fields(Scores) if f.name != "signature"]
    macro = {key: round(sum(g[key] for g in scored.values()) / len(scored), 2) for key in keys}
    return {"groups": scored, "macro": macro, "worst": min(scored, key=lambda g: scored[g]["bleu4"])}
