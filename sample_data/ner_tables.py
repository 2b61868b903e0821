"""The phrase tables behind `ner_people_places.csv` (token classification, IOB2 tags); `make_samples.py` writes it.

Each sentence fills a template's slots with invented people (PER), places (LOC) and organisations (ORG), tagged
B- on an entity's first word and I- on the rest; every other word is O. Names of one or several words, places that
are also part of an organisation's name ("Bank of Karsel" is one ORG) and people's names that are also places'
make the type depend on context, not on the word alone. A few long sentences chain many clauses, so that at max
length 128 they need more than one window.
"""
from __future__ import annotations

import random

FIRST = ["Edda", "Tomas", "Ilse", "Rafael", "Mireille", "Jonas", "Agnieszka", "Bram", "Cosima", "Dmitri", "Eleni",
         "Farouk", "Greta", "Hiroshi", "Inès", "Joaquín", "Katja", "Lorenzo", "Maren", "Nuno", "Oskar", "Priya",
         "Quentin", "Rosalind", "Søren", "Tilde", "Ugo", "Valeria", "Wendel", "Yara", "Zoë", "Halden"]
LAST = ["Albrecht", "Brandvold", "Castellan", "Dunmore", "Eskildsen", "Fairweather", "Granholm", "Halloran",
        "Ivanek", "Jarrow", "Kettering", "Lindqvist", "Marchetti", "Novak", "Okafor", "Pellegrin", "Quayle",
        "Rasmussen", "Sandoval", "Thornbury", "Vasquez", "Whitlock", "Yilmaz", "Zettler", "Westerby"]
PLACES = ["Velmora", "Ostbrook", "Karsel", "Dunhallow", "Pellin Bay", "Marrowick", "Tolvane", "Easthaven",
          "Brindlemoor", "Corvessa", "Ardley Cross", "Sundmark", "Halvik", "Ravensmere", "Quillon", "Lowenfeld",
          "São Meiral", "Skarnes", "Westerby", "Oldcastle Reach", "Fennick", "Grauholm", "Lisbury", "Moravec",
          "the River Varn", "the Tolla Valley", "Mount Kessel", "Lake Orlin"]
FIRMS = ["Halden & Rusk", "Brightwell Works", "Novak Brothers", "Ostbrook Ceramics", "Pellin Marine", "Lumen & Co",
         "Corvessa Textiles", "Fairweather Tools", "Quillon Radio", "Sundmark Foods", "Ardley Printing",
         "Bank of Karsel", "University of Velmora", "Halvik City Council", "Grauholm Rowing Club",
         "the Tolvane Herald", "Red Kite Airlines", "Marrowick General Hospital", "Lowenfeld Institute"]
ORG_PREFIX = {"the": "O"}  # "the" before an organisation or place stays outside the entity
MONTHS = ["January", "March", "May", "July", "September", "November"]
DAYS = ["Monday", "Wednesday", "Friday", "Sunday"]
THINGS = ["a new bridge", "the harbour", "a wind farm", "the old library", "a school", "two ferries",
          "a research station", "the market hall"]
NUMBERS = ["two", "three", "twelve", "forty", "200", "1,500"]

TEMPLATES = [
    "{PER} lives in {LOC} .",
    "{PER} moved from {LOC} to {LOC} in {month} .",
    "{PER} works for {ORG} in {LOC} .",
    "{ORG} opened an office in {LOC} last {month} .",
    "{ORG} hired {PER} as its new director .",
    "On {day} , {PER} met {PER} at {ORG} .",
    "{PER} said that {ORG} would build {thing} near {LOC} .",
    "The mayor of {LOC} , {PER} , praised {ORG} .",
    "{ORG} and {ORG} signed a deal worth {number} million .",
    "After leaving {ORG} , {PER} returned to {LOC} .",
    "Flights from {LOC} to {LOC} were cancelled on {day} .",
    "{PER} , who grew up in {LOC} , now teaches at {ORG} .",
    "Police in {LOC} are looking for {number} missing hikers .",
    "According to {PER} , {thing} in {LOC} will open in {month} .",
    "{ORG} reported strong sales in {LOC} and {LOC} .",
    "{PER} and {PER} founded {ORG} in {LOC} .",
    "Residents of {LOC} voted against {thing} on {day} .",
    "{PER} won the race in {LOC} ahead of {PER} .",
    "A spokesperson for {ORG} declined to comment .",
    "It rained all week in {LOC} .",
    "{PER} thanked everyone at {ORG} .",
    "The storm closed {thing} between {LOC} and {LOC} .",
    "Nobody expected the vote to be so close .",
    "{PER} visited {LOC} with colleagues from {ORG} in {month} .",
]
LONG_CLAUSES = [
    "{PER} left {LOC} early on {day} with {number} boxes of papers from {ORG}",
    "drove along the coast past {LOC} and {LOC} while {PER} read the notes aloud",
    "stopped for lunch in {LOC} , where {PER} of {ORG} was waiting with a map",
    "talked for hours about {thing} that {ORG} wanted to build near {LOC}",
    "missed the last ferry to {LOC} because {PER} had lost the tickets",
    "finally reached {LOC} after midnight , tired but glad that {ORG} had paid for the rooms",
    "spent the next morning with {PER} and {PER} at {ORG} going through every figure",
    "agreed that {thing} in {LOC} should wait until {month}",
]
LONG_SENTENCES = 6
SHORT_SENTENCES = 244


def _entity(name: str, kind: str) -> list[tuple[str, str]]:
    """Words of a name, tagged B-/I- of `kind`; a leading "the" stays O."""
    words = name.split()
    lead = [(words.pop(0), "O")] if words[0] in ORG_PREFIX else []
    return lead + [(word, ("B-" if i == 0 else "I-") + kind) for i, word in enumerate(words)]


def _person(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.2:
        return rng.choice(FIRST)
    if shape < 0.3:
        return f"{rng.choice(FIRST)} {rng.choice(FIRST)} {rng.choice(LAST)}"
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def filled(rng: random.Random, template: str) -> list[tuple[str, str]]:
    """A template's words with its slots filled, each (word, tag)."""
    plain = {"{month}": MONTHS, "{day}": DAYS, "{thing}": THINGS, "{number}": NUMBERS}
    tagged = []
    for word in template.split():
        if word == "{PER}":
            tagged += _entity(_person(rng), "PER")
        elif word == "{LOC}":
            tagged += _entity(rng.choice(PLACES), "LOC")
        elif word == "{ORG}":
            tagged += _entity(rng.choice(FIRMS), "ORG")
        elif word in plain:
            tagged += [(part, "O") for part in rng.choice(plain[word]).split()]
        else:
            tagged.append((word, "O"))
    if tagged[0][1] == "O":
        tagged[0] = (tagged[0][0][:1].upper() + tagged[0][0][1:], "O")
    return tagged


def long_sentence(rng: random.Random) -> list[tuple[str, str]]:
    """All the long clauses in order, joined by commas and "then": 150+ words, well past 128 word pieces."""
    tagged = []
    for i, clause in enumerate(LONG_CLAUSES):
        if i:
            tagged += [(",", "O"), ("then", "O")] if i % 2 else [(",", "O"), ("and", "O"), ("then", "O")]
        tagged += filled(rng, clause)
    return tagged + [(".", "O")]


def ner_rows(rng: random.Random) -> list[tuple[str, str]]:
    """(tokens, tags): space-separated words and as many space-separated tags, sentences unique, shuffled."""
    sentences, seen = [], set()
    while len(sentences) < SHORT_SENTENCES + LONG_SENTENCES:
        made = long_sentence(rng) if len(sentences) < LONG_SENTENCES else filled(rng, rng.choice(TEMPLATES))
        tokens = " ".join(word for word, _ in made)
        if tokens not in seen:
            seen.add(tokens)
            sentences.append((tokens, " ".join(tag for _, tag in made)))
    rng.shuffle(sentences)
    return sentences
