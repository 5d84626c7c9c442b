"""The toy sign language: about 200 signs and a small grammar whose sign order differs from English the
way real sign languages do (time first, topic-comment, object before verb, adjectives and numbers after the
noun, negation and question signs at the end). `sentence(rng)` draws a (gloss, English) pair."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SIGNS, MAX_SIGNS = 3, 7  # sentence length: short clips keep CPU training fast

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
