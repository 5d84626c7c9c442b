"""The built-in example corpus: a toy sign language signed by synthetic MediaPipe-style skeletons.

`slt synth OUT` needs no download, so the demo and the tests run offline. Three layers:

1. The language. ~200 signs and a small grammar whose sign order differs from English the way real
   sign languages do: time first, topic-comment, object before verb, adjectives and numbers after the
   noun, negation and question signs at the end. `sentence(rng)` draws a (gloss, English) pair.
2. The signs. Each gloss gets a deterministic motion from its SHA-256: a handshape (flexion of the five
   fingers), a palm orientation, a location on or in front of the body, a movement, and a hand mode
   (one hand, two symmetric, two alternating, or a passive base hand).
3. The signers. A clip chains signs with eased transitions between rest poses; each signer has their own
   body size, framing, speed and jitter, and hand detections drop out for a few frames now and then,
   as MediaPipe's do. Points are MediaPipe's normalized image coordinates at 25 fps.

Geometry is computed in "body units" (shoulder width = 1, origin at the shoulder midpoint, x to the
image right, y down, z away from the camera), then mapped into the signer's frame. A hand's state is
described in its own side's coordinates (the left hand mirrors x), so one model drives both hands.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import track

from slt.keypoints import schema
from slt.keypoints.io import Keypoints, atomic_write, write_parquet

FPS = 25.0
SPLITS = ("train", "dev", "test")
MIN_SIGNS, MAX_SIGNS = 3, 7  # sentence length: short clips keep CPU training fast

# ----------------------------------------------------------------------------------------------------
# 1. The language

# gloss, singular, plural ("-" = uncountable, used without article), tags
NOUNS = """
APPLE apple apples food
BANANA banana bananas food
BREAD bread - food
RICE rice - food
SOUP soup - food
CAKE cake cakes food
EGG egg eggs food
FISH fish fish food,animal
MEAT meat - food
CHEESE cheese - food
SANDWICH sandwich sandwiches food
COOKIE cookie cookies food
POTATO potato potatoes food
PIZZA pizza pizzas food
WATER water - drink
MILK milk - drink
COFFEE coffee - drink
TEA tea - drink
JUICE juice - drink
BEER beer - drink
WINE wine - drink
DOG dog dogs animal
CAT cat cats animal
HORSE horse horses animal
BIRD bird birds animal
COW cow cows animal
RABBIT rabbit rabbits animal
MOUSE mouse mice animal
SHEEP sheep sheep animal
DUCK duck ducks animal
PIG pig pigs animal
MOTHER mother mothers person
FATHER father fathers person
SISTER sister sisters person
BROTHER brother brothers person
FRIEND friend friends person
TEACHER teacher teachers person
DOCTOR doctor doctors person
BABY baby babies person
CHILD child children person
GRANDMOTHER grandmother grandmothers person
GRANDFATHER grandfather grandfathers person
NEIGHBOR neighbor neighbors person
STUDENT student students person
BOSS boss bosses person
NURSE nurse nurses person
SCHOOL school schools place
HOSPITAL hospital hospitals place
STORE store stores place
PARK park parks place
LIBRARY library libraries place
CHURCH church churches place
BEACH beach beaches place
OFFICE office offices place
RESTAURANT restaurant restaurants place
STATION station stations place
MUSEUM museum museums place
MARKET market markets place
AIRPORT airport airports place
FARM farm farms place
BOOK book books thing,readable,writable,openable
CAR car cars thing,vehicle
BUS bus buses thing,vehicle
TRUCK truck trucks thing,vehicle
BIKE bike bikes thing,vehicle
PHONE phone phones thing
BALL ball balls thing
HAT hat hats thing
SHOE shoe shoes thing
SHIRT shirt shirts thing
DRESS dress dresses thing
BAG bag bags thing,openable
KEY key keys thing
TABLE table tables thing
CHAIR chair chairs thing
COMPUTER computer computers thing
LETTER letter letters thing,readable,writable,openable
NEWSPAPER newspaper newspapers thing,readable
PICTURE picture pictures thing
FLOWER flower flowers thing
DOOR door doors thing,openable
WINDOW window windows thing,openable
BOX box boxes thing,openable
HOUSE house houses thing
TICKET ticket tickets thing
UMBRELLA umbrella umbrellas thing
CUP cup cups thing
MOVIE movie movies watchable
SONG song songs song,writable
FOOTBALL football - game,watchable
BASKETBALL basketball - game,watchable
CHESS chess - game
CARDS cards - game
"""

# gloss, base, third person singular, past, preposition before the object ("-" = none), object tags
VERBS = """
EAT eat eats ate - food
DRINK drink drinks drank - drink
COOK cook cooks cooked - food
BUY buy buys bought - food,drink,thing,animal
SELL sell sells sold - food,thing,animal
WANT want wants wanted - food,drink,thing,animal
NEED need needs needed - food,drink,thing
LIKE like likes liked - food,drink,thing,animal,person,place,game,song,watchable
LOVE love loves loved - person,animal,food
SEE see sees saw - person,animal,thing,place,watchable
HELP help helps helped - person
CALL call calls called - person
VISIT visit visits visited - person,place
MEET meet meets met - person
WAIT wait waits waited for person
GO go goes went to place
READ read reads read - readable
WRITE write writes wrote - writable
FIND find finds found - thing,animal
LOSE lose loses lost - thing
BRING bring brings brought - food,drink,thing
CARRY carry carries carried - thing
OPEN open opens opened - openable
CLOSE close closes closed - openable
CLEAN clean cleans cleaned - thing,place
DRIVE drive drives drove - vehicle
PLAY play plays played - game
WATCH watch watches watched - watchable
SING sing sings sang - song
TEACH teach teaches taught - person
FEED feed feeds fed - animal,person
FORGET forget forgets forgot - thing,person
REMEMBER remember remembers remembered - person,thing,place
"""

# gloss, English, tags of the nouns it can describe ("pronoun" = can follow a personal pronoun)
ADJECTIVES = """
RED red thing
BLUE blue thing
GREEN green thing
YELLOW yellow thing
BLACK black thing,animal
WHITE white thing,animal
BROWN brown thing,animal
BIG big thing,animal,place
SMALL small thing,animal,place
NEW new thing,place
OLD old thing,place,person,pronoun
EXPENSIVE expensive thing,food,drink
CHEAP cheap thing,food,drink
BEAUTIFUL beautiful thing,place,animal,person,pronoun
UGLY ugly thing,animal
DIRTY dirty thing,place,animal
HEAVY heavy thing
HOT hot food,drink
COLD cold food,drink,person,pronoun
FRESH fresh food
SWEET sweet food,drink
DELICIOUS delicious food,drink
HAPPY happy person,pronoun
SAD sad person,pronoun
TIRED tired person,pronoun
HUNGRY hungry person,animal,pronoun
SICK sick person,animal,pronoun
ANGRY angry person,pronoun
BUSY busy person,pronoun
YOUNG young person,animal,pronoun
FUNNY funny person,watchable,pronoun
SMART smart person,animal,pronoun
FAST fast vehicle,animal
SLOW slow vehicle,animal
"""

# gloss, English, tense, where English puts it ("end" of the clause, or "adverb" before the verb)
TIMES = """
YESTERDAY yesterday past end
LAST-NIGHT last_night past end
LAST-WEEK last_week past end
LAST-YEAR last_year past end
TOMORROW tomorrow future end
NEXT-WEEK next_week future end
NEXT-YEAR next_year future end
SOON soon future end
LATER later future end
EVERY-DAY every_day present end
EVERY-MORNING every_morning present end
ALWAYS always present adverb
OFTEN often present adverb
SOMETIMES sometimes present adverb
NOW now present end
"""

# gloss, English subject, grammatical person, possessive gloss, English possessive
PRONOUNS = """
ME I 1s MY my
YOU you 2 YOUR your
HE he 3s HIS his
SHE she 3s HER her
WE we 1p OUR our
THEY they 3p THEIR their
"""

NUMBERS = "ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN".split()
WH_WORDS = ("WHAT", "WHERE", "WHO", "WHY", "WHEN")
FUNCTION_SIGNS = ("NOT", "QUESTION", *WH_WORDS)


def _rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.strip().splitlines()]


@dataclass(frozen=True)
class Noun:
    gloss: str
    singular: str
    plural: str | None  # None: uncountable
    tags: frozenset[str]


@dataclass(frozen=True)
class Verb:
    gloss: str
    base: str
    third: str
    past: str
    preposition: str
    objects: frozenset[str]


NOUN = {g: Noun(g, s, None if p == "-" else p, frozenset(t.split(","))) for g, s, p, t in _rows(NOUNS)}
VERB = {g: Verb(g, b, t, p, "" if pr == "-" else pr, frozenset(o.split(","))) for g, b, t, p, pr, o in _rows(VERBS)}
ADJECTIVE = {g: (e, frozenset(t.split(","))) for g, e, t in _rows(ADJECTIVES)}
TIME = {g: (e.replace("_", " "), tense, where) for g, e, tense, where in _rows(TIMES)}
PRONOUN = {g: (subject, person) for g, subject, person, _, _ in _rows(PRONOUNS)}
POSSESSIVE = {g: english for *_, g, english in _rows(PRONOUNS)}

# Every sign of the language, and the English word each stands for (used to check the word orders).
LEXICON: dict[str, str] = {
    **{g: n.singular for g, n in NOUN.items()},
    **{g: v.base for g, v in VERB.items()},
    **{g: e for g, (e, _) in ADJECTIVE.items()},
    **{g: e.split()[-1] for g, (e, _, _) in TIME.items()},
    **{g: s for g, (s, _) in PRONOUN.items()},
    **POSSESSIVE,
    **{g: g.lower() for g in NUMBERS},
    **{g: g.lower() for g in FUNCTION_SIGNS},
}

BE = {"present": {"1s": "am", "2": "are", "3s": "is", "1p": "are", "3p": "are"},
      "past": {"1s": "was", "2": "were", "3s": "was", "1p": "were", "3p": "were"}}  # fmt: skip


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _pick(rng: np.random.Generator, items):
    items = sorted(items)
    return items[rng.integers(len(items))]


def _noun_phrase(rng: np.random.Generator, noun: Noun, tense: str, definite: bool) -> tuple[list[str], str]:
    """An object noun phrase: signed NOUN [ADJ] [NUMBER] (or POSS NOUN [ADJ]), English det num adj noun."""
    adjectives = [g for g, (_, tags) in ADJECTIVE.items() if tags & noun.tags]
    adjective = _pick(rng, adjectives) if adjectives and rng.random() < 0.35 else None
    roll = rng.random()
    possessive = _pick(rng, POSSESSIVE) if roll < 0.2 else None
    number = NUMBERS[rng.integers(len(NUMBERS))] if noun.plural and 0.2 <= roll < 0.35 else None
    signs = ([possessive] if possessive else []) + [noun.gloss] + ([adjective] if adjective else [])
    signs += [number] if number else []
    described = lambda form: " ".join(([ADJECTIVE[adjective][0]] if adjective else []) + [form])  # noqa: E731
    if possessive:
        english = f"{POSSESSIVE[possessive]} {described(noun.singular)}"
    elif number:
        english = f"{number.lower()} {described(noun.singular if number == 'ONE' else noun.plural)}"
    elif definite or noun.tags & {"place", "person"}:
        english = f"the {described(noun.singular)}"
    elif noun.plural is None:
        english = described(noun.singular)
    elif tense == "present":  # habits take bare plurals: "she eats apples"
        english = described(noun.plural)
    else:
        english = _article(described(noun.singular))
    return signs, english


def _subject(rng: np.random.Generator, people_only: bool) -> tuple[list[str], str, str, frozenset[str]]:
    """A subject: a pronoun or [POSS] NOUN. Returns signs, English, grammatical person, noun tags."""
    if rng.random() < 0.6:
        gloss = _pick(rng, PRONOUN)
        return [gloss], PRONOUN[gloss][0], PRONOUN[gloss][1], frozenset({"pronoun"})
    kinds = {"person"} if people_only else {"person", "thing", "animal", "place", "food", "drink"}
    noun = NOUN[_pick(rng, [g for g, n in NOUN.items() if n.tags & kinds])]
    if rng.random() < 0.5:
        possessive = _pick(rng, POSSESSIVE)
        return [possessive, noun.gloss], f"{POSSESSIVE[possessive]} {noun.singular}", "3s", noun.tags
    return [noun.gloss], f"the {noun.singular}", "3s", noun.tags


def _clause(subject: str, person: str, tense: str, mood: str, verb: str | None, rest: str,
            adverb: str, end: str, wh: str = "") -> str:  # fmt: skip
    """English word order for a subject, a verb (None: the copula 'be') and what follows it."""
    if verb is None:  # be + adjective
        finite = "will be" if tense == "future" else BE[tense][person]
        aux, main = finite.split()[0], " ".join(finite.split()[1:])
    else:
        v = VERB[verb]
        aux = {"present": "does" if person == "3s" else "do", "past": "did", "future": "will"}[tense]
        main = v.base
        if mood == "statement" and tense != "future":
            aux, main = "", v.third if tense == "present" and person == "3s" else v.past if tense == "past" else v.base
    if mood in ("question", "wh"):
        words = [wh, aux, subject, adverb, main, rest, end]
    else:
        words = [subject, aux, "not" if mood == "negative" else "", adverb, main, rest, end]
    text = " ".join(w for w in words if w)
    return text[0].upper() + text[1:] + ("?" if mood in ("question", "wh") else ".")


def sentence(rng: np.random.Generator) -> tuple[list[str], str]:
    """Draw one sentence of the toy language: its signs (gloss) and its English translation."""
    mood = _pick(rng, [m for m, p in (("statement", 11), ("negative", 4), ("question", 3), ("wh", 2)) for _ in range(p)])
    time = _pick(rng, TIME) if rng.random() < 0.65 else None
    time_en, tense, where = TIME[time] if time else ("", "present", "end")
    adverb, end = (time_en, "") if where == "adverb" else ("", time_en)

    if rng.random() < 0.3 or time == "NOW":  # topic-comment: SUBJECT ADJECTIVE, "the subject is adjective"
        subject, subject_en, person, tags = _subject(rng, people_only=False)
        adjective = _pick(rng, [g for g, (_, t) in ADJECTIVE.items() if t & tags])
        wh = "WHY" if mood == "wh" else None
        if wh and tense == "future":
            mood, wh = "question", None
        signs = [*([time] if time else []), *subject, adjective]
        text = _clause(subject_en, person, tense, mood, None, ADJECTIVE[adjective][0], adverb, end, "why" if wh else "")
    else:  # TIME SUBJECT OBJECT VERB: "subject verb object time"
        subject, subject_en, person, _ = _subject(rng, people_only=True)
        verb = VERB[_pick(rng, VERB)]
        noun = NOUN[_pick(rng, [g for g, n in NOUN.items() if n.tags & verb.objects])]
        wh = None
        if mood == "wh":
            choices = ["WHY", "WHERE"] + (["WHEN"] if time is None else [])
            if "person" in noun.tags and "person" in verb.objects:
                choices.append("WHO")
            elif not noun.tags & {"person", "place"}:
                choices.append("WHAT")
            wh = _pick(rng, choices)
            if wh == "WHEN":
                tense = "past"
        drop_object = wh in ("WHAT", "WHO") or (wh == "WHERE" and "place" in noun.tags)
        obj, obj_en = _noun_phrase(rng, noun, tense, definite=wh is not None)
        if drop_object:
            obj, obj_en = [], verb.preposition if wh != "WHERE" else ""
        elif verb.preposition:
            obj_en = f"{verb.preposition} {obj_en}"
        signs = [*([time] if time else []), *subject, *obj, verb.gloss]
        text = _clause(subject_en, person, tense, mood, verb.gloss, obj_en, adverb, end, (wh or "").lower())
    if mood == "negative":
        signs.append("NOT")
    elif mood == "question":
        signs.append("QUESTION")
    elif mood == "wh":
        signs.append(wh)
    return signs, text


# ----------------------------------------------------------------------------------------------------
# 2. The signs

# Finger flexion (thumb, index, middle, ring, pinky; 0 straight, 1 curled) and finger spread.
HANDSHAPES = {
    "A": ((0.0, 1, 1, 1, 1), 0.0), "S": ((0.9, 1, 1, 1, 1), 0.0), "B": ((0.8, 0, 0, 0, 0), 0.0),
    "5": ((0.0, 0, 0, 0, 0), 1.0), "1": ((0.9, 0, 1, 1, 1), 0.0), "V": ((0.9, 0, 0, 1, 1), 1.0),
    "W": ((0.9, 0, 0, 0, 1), 0.8), "Y": ((0.0, 1, 1, 1, 0), 0.8), "L": ((0.0, 0, 1, 1, 1), 0.5),
    "C": ((0.3, 0.45, 0.45, 0.45, 0.45), 0.2), "O": ((0.6, 0.75, 0.75, 0.75, 0.75), 0.0),
    "I": ((0.9, 1, 1, 1, 0), 0.0), "3": ((0.0, 0, 0, 1, 1), 0.8), "horns": ((0.9, 0, 1, 1, 0), 0.8),
}  # fmt: skip
# Palm orientation as (yaw, pitch, roll) of a hand that starts fingers up, palm to the camera.
ORIENTATIONS = {
    "palm_out": (0.0, 0.0, 0.0), "palm_in": (np.pi, 0.0, 0.0), "palm_side": (1.4, 0.0, 0.0),
    "palm_down": (0.0, 1.4, 0.0), "palm_up": (0.0, -1.4, np.pi), "fingers_across": (0.0, 0.0, 1.4),
}  # fmt: skip
# Where the dominant (right) wrist is, in body units on its own side (see the module docstring).
LOCATIONS = {
    "neutral": (-0.25, 0.55, -0.45), "neutral_high": (-0.2, 0.05, -0.5), "side": (-0.7, 0.5, -0.3),
    "chest": (-0.05, 0.4, -0.2), "stomach": (-0.05, 0.9, -0.2), "chin": (-0.02, -0.3, -0.4),
    "mouth": (0.0, -0.42, -0.42), "forehead": (-0.05, -0.75, -0.4), "cheek": (-0.2, -0.45, -0.35),
    "temple": (-0.3, -0.68, -0.25), "shoulder": (-0.45, 0.1, -0.2), "other_shoulder": (0.35, 0.15, -0.25),
}  # fmt: skip
# Wrist paths over the sign's time u in [0, 1] (e: u eased in and out), for an amplitude of 0.3 body units.
PATHS = {
    "hold": lambda u, e: (0, 0.1 * np.sin(2 * np.pi * u), 0),
    "down": lambda u, e: (0, e, 0),
    "up": lambda u, e: (0, -e, 0),
    "forward": lambda u, e: (0, 0, -e),
    "across": lambda u, e: (1.3 * e, 0, 0),
    "arc": lambda u, e: (e, -0.6 * np.sin(np.pi * u), 0),
    "circle": lambda u, e: (0.5 * np.cos(2 * np.pi * u) - 0.5, 0.5 * np.sin(2 * np.pi * u), 0),
    "circle_front": lambda u, e: (0, 0.5 * np.sin(2 * np.pi * u), 0.5 - 0.5 * np.cos(2 * np.pi * u)),
    "tap": lambda u, e: (0, 0, -0.4 * np.abs(np.sin(4 * np.pi * u))),
    "shake": lambda u, e: (0.3 * np.sin(6 * np.pi * u), 0, 0),
}
MOVEMENTS = (*PATHS, "twist", "open", "close")  # the last three turn the wrist or change the handshape
HAND_MODES = ("one", "symmetric", "alternating", "base")

# A hand's state: wrist position (3), orientation (3), finger flexion (5), spread (1).
POS, ROT, FLEX, SPREAD = slice(0, 3), slice(3, 6), slice(6, 11), 11
REST = np.array([-0.3, 1.2, -0.15, np.pi, 0.3, 1.2, 0.3, 0.3, 0.35, 0.4, 0.45, 0.2])
BASE = np.array([0.05, 0.7, -0.45, *ORIENTATIONS["palm_up"], *HANDSHAPES["B"][0], 0.0])


def _state(location: str, orientation: str, handshape: str) -> np.ndarray:
    flex, spread = HANDSHAPES[handshape]
    return np.array([*LOCATIONS[location], *ORIENTATIONS[orientation], *flex, spread], dtype=np.float64)


@dataclass(frozen=True)
class SignMotion:
    """How one sign is made; `frames` is its length at normal speed."""

    handshape: str
    orientation: str
    location: str
    movement: str
    hands: str
    frames: int

    def states(self, n: int, amplitude: float = 1.0, offset: np.ndarray | None = None) -> np.ndarray:
        """The sign's hand states over `n` frames: `[n, 2, 12]` (dominant right hand, then left)."""
        start = _state(self.location, self.orientation, self.handshape)
        if offset is not None:
            start[POS] += offset
        u = np.linspace(0.0, 1.0, n)
        right = self._moved(start, u, amplitude)
        left = {
            "one": np.tile(REST, (n, 1)),
            "symmetric": right,
            "alternating": self._moved(start, 1.0 - u, amplitude),
            "base": np.tile(BASE, (n, 1)),
        }[self.hands]
        return np.stack([right, left], axis=1)

    def _moved(self, start: np.ndarray, u: np.ndarray, amplitude: float) -> np.ndarray:
        states = np.tile(start, (len(u), 1))
        ease = u * u * (3 - 2 * u)
        if self.movement in PATHS:
            states[:, POS] += 0.3 * amplitude * np.stack(np.broadcast_arrays(*PATHS[self.movement](u, ease)), 1)
        elif self.movement == "twist":
            states[:, ROT.start + 2] += 1.5 * ease
        else:  # "open" starts from a fist, "close" ends in one
            fist = np.array(HANDSHAPES["S"][0])
            w = (1 - ease if self.movement == "open" else ease)[:, None]
            states[:, FLEX] = (1 - w) * start[FLEX] + w * fist
        return states


def sign_motions(glosses) -> dict[str, SignMotion]:
    """A distinct motion for each gloss, derived from its SHA-256: the same gloss string gets the same sign
    whichever table it comes from, unless another gloss of the table hashed to the same form first (in
    sorted order), in which case it takes the next free form."""
    sizes = (len(HANDSHAPES), len(ORIENTATIONS), len(LOCATIONS), len(MOVEMENTS), len(HAND_MODES))
    space = int(np.prod(sizes))
    taken, motions = set(), {}
    for gloss in sorted(set(glosses)):
        digest = int.from_bytes(hashlib.sha256(gloss.encode()).digest()[:8], "big")
        index = digest % space
        while index in taken:
            index = (index + 1) % space
        taken.add(index)
        code = []
        for size in sizes:
            index, part = divmod(index, size)
            code.append(part)
        h, o, loc, m, mode = code
        motions[gloss] = SignMotion(
            list(HANDSHAPES)[h], list(ORIENTATIONS)[o], list(LOCATIONS)[loc], MOVEMENTS[m], HAND_MODES[mode],
            frames=8 + (digest >> 40) % 8,
        )
    return motions


# ----------------------------------------------------------------------------------------------------
# 3. The signers

# Where each pose landmark sits in body units; arms and hand-linked points are overwritten per frame.
POSE_TEMPLATE = np.array([
    (0, -0.55, -0.3), (0.05, -0.63, -0.28), (0.09, -0.64, -0.28), (0.13, -0.63, -0.27), (-0.05, -0.63, -0.28),
    (-0.09, -0.64, -0.28), (-0.13, -0.63, -0.27), (0.19, -0.6, -0.1), (-0.19, -0.6, -0.1), (0.06, -0.45, -0.27),
    (-0.06, -0.45, -0.27), (0.5, 0, 0), (-0.5, 0, 0), (0.6, 0.7, 0), (-0.6, 0.7, 0), (0.6, 1.3, 0),
    (-0.6, 1.3, 0), (0.6, 1.4, 0), (-0.6, 1.4, 0), (0.6, 1.4, 0), (-0.6, 1.4, 0), (0.6, 1.4, 0),
    (-0.6, 1.4, 0), (0.3, 1.35, 0), (-0.3, 1.35, 0), (0.32, 2.3, 0), (-0.32, 2.3, 0), (0.33, 3.2, 0.1),
    (-0.33, 3.2, 0.1), (0.35, 3.28, 0.15), (-0.35, 3.28, 0.15), (0.3, 3.35, -0.15), (-0.3, 3.35, -0.15),
])  # fmt: skip
FACE_JOINTS = slice(0, 11)
NECK = np.array([0.0, -0.25, 0.0])

# Hand geometry for a right hand, fingers up, palm to the camera, wrist at 0, palm length 1:
# knuckle position, spread direction, and three segment lengths per finger; the thumb starts at its CMC.
FINGERS = (
    ((0.22, -0.25, -0.05), 0.9, (0.4, 0.33, 0.3)),  # thumb
    ((0.3, -0.95, 0), 0.25, (0.45, 0.28, 0.22)),
    ((0.1, -1.0, 0), 0.05, (0.5, 0.3, 0.23)),
    ((-0.1, -0.95, 0), -0.15, (0.47, 0.29, 0.22)),
    ((-0.28, -0.85, 0), -0.35, (0.37, 0.22, 0.2)),
)
BEND = np.radians([(35, 35, 40), (85, 95, 60), (85, 95, 60), (85, 95, 60), (85, 95, 60)])


def _rotation(euler: np.ndarray) -> np.ndarray:
    """`[T, 3]` (yaw, pitch, roll) -> `[T, 3, 3]` rotation matrices R_y @ R_x @ R_z."""
    (cy, cx, cz), (sy, sx, sz) = np.cos(euler).T, np.sin(euler).T
    one, zero = np.ones_like(cy), np.zeros_like(cy)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).reshape(-1, 3, 3)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).reshape(-1, 3, 3)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).reshape(-1, 3, 3)
    return ry @ rx @ rz


def hand_points(states: np.ndarray, palm: float) -> np.ndarray:
    """Forward kinematics: `[T, 12]` hand states -> `[T, 21, 3]` landmarks in body units (own side)."""
    frames = len(states)
    local = np.zeros((frames, 21, 3))
    palm_normal = np.array([0.0, 0.0, -1.0])  # fingers curl toward the palm, i.e. toward the camera
    for f, (knuckle, spread, lengths) in enumerate(FINGERS):
        angle = spread * (0.3 + 0.7 * states[:, SPREAD]) if f == 0 else spread * states[:, SPREAD]
        straight = np.stack([np.sin(angle), -np.cos(angle), np.zeros(frames)], 1)
        curl = palm_normal if f else np.array([-0.6, -0.1, -0.8])
        point = np.tile(np.asarray(knuckle, dtype=np.float64), (frames, 1))
        local[:, 1 + 4 * f] = point
        theta = np.zeros(frames)
        for k, length in enumerate(lengths):
            theta = theta + states[:, FLEX.start + f] * BEND[f, k]
            direction = np.cos(theta)[:, None] * straight + np.sin(theta)[:, None] * curl
            point = point + length * direction / np.linalg.norm(direction, axis=1, keepdims=True)
            local[:, 2 + 4 * f + k] = point
    rotated = np.einsum("tij,tnj->tni", _rotation(states[:, ROT]), local)
    return states[:, None, POS] + palm * rotated


def _elbow(shoulder: np.ndarray, wrist: np.ndarray, length: float, side: float) -> np.ndarray:
    """Two-bone inverse kinematics: the elbow of an arm with equal upper arm and forearm `length`,
    bent down, out to `side` and back, as a relaxed arm is."""
    reach = wrist - shoulder
    dist = np.linalg.norm(reach, axis=1, keepdims=True)
    along = reach / np.maximum(dist, 1e-6)
    half = np.minimum(dist / 2, length * 0.999)
    prefer = np.array([0.6 * side, 1.0, 0.4])
    bend = prefer - (along @ prefer)[:, None] * along
    bend /= np.linalg.norm(bend, axis=1, keepdims=True)
    return shoulder + along * half + bend * np.sqrt(length**2 - half**2)


@dataclass(frozen=True)
class Style:
    """How far a corpus departs from citation-form signing by one careful signer.

    `clean` (the toy corpus's default): every sign is made as listed, with eased transitions between signs,
    and signers differ only in size, framing, speed and jitter. `realistic` (`--from-table`'s default) adds
    what makes real corpora hard for a recognizer: coarticulation (signs shortened and cross-faded into
    their neighbours), per-signer habits (lax or biased handshapes, a shifted and scaled signing space,
    turned palms, a wider range of speeds and body proportions), a camera framed anew for each clip
    (distance, position, roll), left-handed signers, more landmark noise and more hand dropouts.
    """

    coarticulation: float = 0.0  # fraction of each sign cross-faded with its neighbour; signs shortened up to it
    habits: float = 0.0  # scale of each signer's own biases (handshape, location, orientation, signing space)
    framing: float = 0.0  # scale of the per-clip camera changes (distance, position, roll)
    left_handed_every: int = 0  # the 4th, 14th, ... signer (in name order) is left-handed when 10; 0: none
    noise: float = 1.0  # landmark jitter multiplier
    dropouts: float = 1.0  # hand-dropout multiplier


STYLES = {
    "clean": Style(),
    "realistic": Style(coarticulation=0.35, habits=1.0, framing=1.0, left_handed_every=10, noise=2.0, dropouts=2.5),
}


@dataclass(frozen=True)
class Signer:
    """One synthetic person in front of one camera."""

    name: str
    width: int
    height: int
    center: tuple[float, float]  # shoulder midpoint, pixels
    shoulder_width: float  # pixels
    palm: float  # palm length / shoulder width
    arm: float  # upper arm (= forearm) length / shoulder width
    head: float  # head size factor
    speed: float  # > 1 signs faster
    jitter: float  # landmark noise, in normalized image units
    dropouts: float  # expected hand-detection gaps per hand per clip
    # Habits (realistic style; zero in the clean one): added to every hand state, in the dominant hand's terms.
    left_handed: bool = False
    flex_bias: tuple[float, ...] = (0.0,) * 5  # finger flexion offsets (thumb..pinky)
    lax: float = 0.0  # pull of every flexion towards half-bent
    location_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)  # body units
    rotation_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)  # radians (yaw, pitch, roll)
    space: float = 1.0  # size of the signing space: movement amplitude factor

    @classmethod
    def random(cls, name: str, rng: np.random.Generator, style: Style = STYLES["clean"], left_handed: bool = False) -> Signer:
        width, height = [(1280, 720), (1920, 1080), (960, 720), (640, 480)][rng.integers(4)]
        shoulder = height * rng.uniform(0.28, 0.4)
        signer = cls(
            name, width, height,
            center=(width * rng.uniform(0.42, 0.58), height * rng.uniform(0.36, 0.45)),
            shoulder_width=float(shoulder), palm=float(rng.uniform(0.21, 0.26)), arm=float(rng.uniform(0.7, 0.8)),
            head=float(rng.uniform(0.9, 1.1)), speed=float(rng.uniform(0.85, 1.2)),
            jitter=float(rng.uniform(0.001, 0.003)) * style.noise, dropouts=float(rng.uniform(0.2, 0.8)) * style.dropouts,
            left_handed=left_handed,
        )  # fmt: skip
        if not style.habits:  # drawn after the clean fields, so a clean corpus is the same as ever
            return signer
        h = style.habits
        return dataclasses.replace(
            signer,
            palm=signer.palm * float(rng.uniform(1 - 0.15 * h, 1 + 0.15 * h)),
            arm=signer.arm * float(rng.uniform(1 - 0.1 * h, 1 + 0.1 * h)),
            speed=signer.speed * float(rng.uniform(1 - 0.15 * h, 1 + 0.15 * h)),
            flex_bias=tuple(rng.normal(0.0, 0.12 * h, 5).round(4)),
            lax=float(rng.uniform(0.0, 0.25 * h)),
            location_bias=tuple(rng.normal(0.0, 0.08 * h, 3).round(4)),
            rotation_bias=tuple(rng.normal(0.0, 0.15 * h, 3).round(4)),
            space=float(rng.uniform(1 - 0.2 * h, 1 + 0.2 * h)),
        )

    def habitual(self, states: np.ndarray) -> np.ndarray:
        """Hand states `[T, 2, 12]` as this signer makes them: biases added, the dominant hand on its side."""
        if self.lax or any(self.flex_bias) or any(self.location_bias) or any(self.rotation_bias):
            states = states.copy()
            states[..., POS] += self.location_bias
            states[..., ROT] += self.rotation_bias
            flex = (1 - self.lax) * states[..., FLEX] + self.lax * 0.5 + np.asarray(self.flex_bias)
            states[..., FLEX] = np.clip(flex, 0.0, 1.0)
        # Each hand's state is in its own side's coordinates, so swapping the hands mirrors the signing.
        return states[:, ::-1] if self.left_handed else states


def perform(signs: list[SignMotion], signer: Signer, rng: np.random.Generator, style: Style = STYLES["clean"],
            habits: np.random.Generator | None = None) -> np.ndarray:  # fmt: skip
    """A clip of `signer` signing `signs` from rest to rest: `[T, 2, 12]` hand states per frame.

    `habits` draws the realistic style's per-sign variation (shortening, cross-fade), apart from `rng`, so
    that a clean clip is the same as ever.
    """

    def rest() -> np.ndarray:
        frames = int(rng.integers(3, 7)) + (int(habits.integers(5, 16)) if style.coarticulation else 0)
        return np.tile(np.stack([REST, REST]), (frames, 1, 1))

    def sign(motion: SignMotion) -> np.ndarray:
        n = motion.frames * rng.uniform(0.9, 1.1) / signer.speed
        if style.coarticulation:  # signs in running signing are shorter than citation forms
            n *= habits.uniform(1 - style.coarticulation, 1.0)
        amplitude = rng.uniform(0.85, 1.15) * signer.space
        states = motion.states(max(5, round(n)), amplitude=amplitude, offset=rng.normal(0.0, 0.03, 3))
        if style.coarticulation:  # the sign's final posture is held a moment (movement-hold phonology)
            states = np.concatenate([states, np.repeat(states[-1:], habits.integers(2, 8), axis=0)])
        return states

    segments = [rest()]
    for target in [*(sign(m) for m in signs), rest()]:
        steps = max(3, round(rng.integers(4, 7) / signer.speed))
        if style.coarticulation:
            # The end of the previous segment and the start of this one are made at once: a cross-fade
            # over a share of both replaces the transition through the space between them.
            previous = segments.pop()
            overlap = min(len(previous) // 2, len(target) // 2, max(1, round(habits.uniform(0.5, 1.0) * style.coarticulation * len(target))))
            w = np.linspace(0, 1, overlap + 2)[1:-1, None, None]
            w = w * w * (3 - 2 * w)
            segments += [previous[:-overlap], (1 - w) * previous[-overlap:] + w * target[:overlap], target[overlap:]]
            continue
        w = np.linspace(0, 1, steps + 2)[1:-1, None, None]
        w = w * w * (3 - 2 * w)  # ease in and out of the transition
        segments += [(1 - w) * segments[-1][-1] + w * target[0], target]
    return signer.habitual(np.concatenate(segments))


@dataclass(frozen=True)
class Camera:
    """How one clip is framed, relative to the signer's usual framing."""

    distance: float = 1.0  # > 1: the signer looks larger
    shift: tuple[float, float] = (0.0, 0.0)  # of the shoulder midpoint, in image widths and heights
    roll: float = 0.0  # radians

    @classmethod
    def random(cls, rng: np.random.Generator, style: Style) -> Camera:
        f = style.framing
        return cls(float(rng.uniform(1 - 0.15 * f, 1 + 0.15 * f)), tuple(rng.normal(0.0, 0.04 * f, 2)), float(rng.normal(0.0, 0.05 * f)))


def render_signer(states: np.ndarray, signer: Signer, rng: np.random.Generator, camera: Camera = Camera()) -> np.ndarray:
    """Hand states `[T, 2, 12]` -> landmarks `[T, 75, 3]` (pose, left hand, right hand) in MediaPipe's
    normalized image coordinates, with jitter and hand-detection dropouts."""
    frames = len(states)
    right = hand_points(states[:, 0], signer.palm)
    left = hand_points(states[:, 1], signer.palm) * np.array([-1.0, 1.0, 1.0])
    pose = np.tile(POSE_TEMPLATE, (frames, 1, 1))
    pose[:, FACE_JOINTS] = NECK + signer.head * (pose[:, FACE_JOINTS] - NECK)
    for hand, side, (shoulder, elbow, wrist, pinky, index, thumb) in (
        (left, 1.0, (11, 13, 15, 17, 19, 21)),
        (right, -1.0, (12, 14, 16, 18, 20, 22)),
    ):
        pose[:, elbow] = _elbow(pose[:, shoulder], hand[:, 0], signer.arm, side)
        pose[:, wrist], pose[:, pinky], pose[:, index], pose[:, thumb] = hand[:, 0], hand[:, 17], hand[:, 5], hand[:, 2]
    body = np.concatenate([pose, left, right], axis=1)
    t = np.arange(frames) / FPS
    sway = 0.02 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 2 * np.pi))
    body[:, :, 0] += sway[:, None]
    if camera.roll:
        c, s = np.cos(camera.roll), np.sin(camera.roll)
        body[..., :2] = body[..., :2] @ np.array([[c, s], [-s, c]])

    scale = signer.shoulder_width * camera.distance
    center_x = signer.center[0] + camera.shift[0] * signer.width
    center_y = signer.center[1] + camera.shift[1] * signer.height
    points = np.empty_like(body)
    points[..., 0] = (center_x + scale * body[..., 0]) / signer.width
    points[..., 1] = (center_y + scale * body[..., 1]) / signer.height
    points[..., 2] = scale * body[..., 2] / signer.width
    slices = schema.part_slices(schema.DEFAULT_PARTS)
    for part in ("left_hand", "right_hand"):  # MediaPipe gives hand depth relative to the wrist
        points[:, slices[part], 2] -= points[:, slices[part].start, None, 2]
    points += rng.normal(0.0, signer.jitter, points.shape)
    for part in ("left_hand", "right_hand"):
        hand = points[:, slices[part]]
        lost = ~((hand[..., :2] > 0) & (hand[..., :2] < 1)).all(axis=(1, 2))  # out of frame
        for _ in range(rng.poisson(signer.dropouts)):
            start = rng.integers(frames)
            lost[start : start + rng.integers(2, 7)] = True
        hand[lost] = np.nan
    return points.astype(np.float32)


# ----------------------------------------------------------------------------------------------------
# 4. The corpus


@dataclass(frozen=True)
class Clip:
    """One row of the corpus: the clip `name` (its path under keypoints/ without .parquet) and its text."""

    name: str
    text: str
    split: str
    signer: str
    gloss: str


@dataclass(frozen=True)
class Summary:
    clips: dict[str, int]  # per split
    signs: int
    signers: int
    frames: int
    left_handed: int = 0  # signers


def toy_clips(train: int, dev: int, test: int, signers: int, seed: int) -> list[Clip]:
    """Sentences of the toy language for each split. Dev and test sentences never occur in train (nor in
    each other) and use only signs seen in train, so they test new combinations of known signs."""
    rng = np.random.default_rng([seed, 0])
    seen_gloss, seen_text, vocabulary, clips = set(), set(), set(), []
    for split, count in zip(SPLITS, (train, dev, test)):
        made, attempts = 0, 0
        while made < count:
            attempts += 1
            if attempts > 100 * count + 1000:
                raise ValueError(f"cannot draw {count} distinct {split} sentences; ask for fewer")
            signs, text = sentence(rng)
            gloss = " ".join(signs)
            if not MIN_SIGNS <= len(signs) <= MAX_SIGNS or gloss in seen_gloss or text in seen_text:
                continue
            if split != "train" and not vocabulary.issuperset(signs):
                continue
            seen_gloss.add(gloss)
            seen_text.add(text)
            if split == "train":
                vocabulary.update(signs)
            signer = f"signer{rng.integers(signers) + 1:02d}"
            clips.append(Clip(f"{split}/{split}-{made:05d}", text, split, signer, gloss))
            made += 1
    return clips


def table_clips(path: str | Path, signers: int = 8) -> list[Clip]:
    """Clips for every row of a gloss/text table: a table `read_annotations` knows (e.g. PHOENIX-2014T
    corpus files) or a plain CSV/TSV with `gloss` and `text` columns (and optional `split`, `signer`).
    Rows without a split get one from a hash of their text (90/5/5), so equal sentences share a split;
    rows without a signer get one of `signers` from a hash of their name."""
    from slt.preprocess.annotations import read_annotations, split_from_filename

    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        header = f.readline()
        delimiter = max("|\t,", key=header.count)
        f.seek(0)
        if "name" in header.strip().split(delimiter):
            rows = [(s.name, s.text, s.split, s.signer, s.gloss) for s in read_annotations(path)]
        else:
            table = list(csv.DictReader(f, delimiter=delimiter))
            if table and not {"gloss", "text"} <= set(table[0]):
                raise ValueError(f"{path}: needs gloss and text columns, has {list(table[0])}")
            split = split_from_filename(path)
            rows = [(f"{path.stem}-{i:05d}", r["text"], r.get("split") or split, r.get("signer"), r["gloss"]) for i, r in enumerate(table)]
    clips = []
    for line, (name, text, split, signer, gloss) in enumerate(rows, start=2):
        if not gloss or not gloss.split():
            raise ValueError(f"{path}:{line}: no gloss for clip {name!r}; --from-table needs a gloss per row")
        if split is None:
            bucket = hashlib.sha256(text.encode()).digest()[0] * 20 // 256
            split = "dev" if bucket == 18 else "test" if bucket == 19 else "train"
        if not signer:
            signer = f"signer{int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], 'big') % signers + 1:02d}"
        clips.append(Clip(f"{split}/{name}", text, split, signer, " ".join(gloss.split())))
    return clips


def write_corpus(out: str | Path, clips: list[Clip], seed: int = 0, progress: bool = False, style: str = "clean") -> Summary:
    """Synthesize every clip into OUT/keypoints/<name>.parquet and write OUT/annotations.csv.

    `style` names one of `STYLES`. Each clip's randomness comes from (seed, clip number) and each signer's
    from (seed, signer name), so the output is byte-identical for a seed.
    """
    out = Path(out)
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {list(STYLES)}")
    look = STYLES[style]
    twice = sorted(name for name, n in Counter(clip.name for clip in clips).items() if n > 1)
    if twice:
        raise ValueError(f"clip names occur more than once ({', '.join(twice[:3])}); give each clip its own name")
    motions = sign_motions(sign for clip in clips for sign in clip.gloss.split())
    names = sorted({clip.signer for clip in clips})
    signers = {
        name: Signer.random(
            name,
            np.random.default_rng([seed, 1, *hashlib.sha256(name.encode()).digest()[:8]]),
            look,
            left_handed=bool(look.left_handed_every) and i % look.left_handed_every == 3,
        )
        for i, name in enumerate(names)
    }
    frames = 0
    for i, clip in enumerate(track(clips, description="synthesizing", disable=not progress)):
        rng, habits = np.random.default_rng([seed, 2, i]), np.random.default_rng([seed, 3, i])
        signer = signers[clip.signer]
        states = perform([motions[s] for s in clip.gloss.split()], signer, rng, look, habits)
        camera = Camera.random(habits, look) if look.framing else Camera()
        info = {"source": "synthetic", "generator": "slt synth", "seed": seed, "signer": clip.signer, "gloss": clip.gloss}
        if style != "clean":
            info["style"] = style
        kp = Keypoints(render_signer(states, signer, rng, camera), FPS, width=signer.width, height=signer.height, info=info)
        write_parquet(kp, out / "keypoints" / f"{clip.name}.parquet")
        frames += kp.num_frames
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["name", "text", "split", "signer", "gloss"])
    writer.writerows((c.name, c.text, c.split, c.signer, c.gloss) for c in clips)
    atomic_write(out / "annotations.csv", lambda tmp: Path(tmp).write_text(table.getvalue(), encoding="utf-8"))
    counts = {split: sum(c.split == split for c in clips) for split in SPLITS}
    left = sum(s.left_handed for s in signers.values())
    return Summary(counts, len(motions), len(signers), frames, left)
