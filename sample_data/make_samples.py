"""Write the three sample CSVs: `python sample_data/make_samples.py` (deterministic; same files every run).

The sentences are built from small phrase tables so the labels are learnable: the words carry the sentiment,
and pairs differ in exactly the slots that make them paraphrases, not paraphrases, or more or less similar.
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent

# ---------------------------------------------------------------- sentiment_reviews.csv

THINGS = ["hotel room", "pizza", "phone", "film", "novel", "pair of headphones", "coffee", "delivery",
          "yoga class", "laptop", "restaurant", "concert", "jacket", "app update", "train journey"]
ASPECTS = ["service", "price", "sound", "battery", "staff", "design", "ending", "packaging", "seating", "menu"]
TONES = {
    "positive": {
        "adjectives": ["wonderful", "excellent", "fantastic", "delightful", "superb", "lovely", "brilliant"],
        "templates": [
            "The {thing} was {adj}, and the {aspect} was even better.",
            "I loved the {thing}; the {aspect} was {adj}.",
            "What {a_adj} {thing}! I would happily buy it again.",
            "Honestly the best {thing} I have had in years, {adj} {aspect}.",
            "Great value and {a_adj} {aspect}, so I recommend this {thing}.",
            "The {aspect} made me smile; {a_adj} {thing} overall.",
        ],
    },
    "negative": {
        "adjectives": ["terrible", "awful", "disappointing", "dreadful", "poor", "useless", "horrible"],
        "templates": [
            "The {thing} was {adj}, and the {aspect} was even worse.",
            "I hated the {thing}; the {aspect} was {adj}.",
            "What {a_adj} {thing}! I want my money back.",
            "Honestly the worst {thing} I have had in years, {adj} {aspect}.",
            "Overpriced with {a_adj} {aspect}, so avoid this {thing}.",
            "The {aspect} made me angry; {a_adj} {thing} overall.",
        ],
    },
    "neutral": {
        "adjectives": ["ordinary", "average", "standard", "typical", "plain", "regular", "so-so"],
        "templates": [
            "The {thing} was {adj}, and the {aspect} was as expected.",
            "I tried the {thing}; the {aspect} was {adj}.",
            "It is {a_adj} {thing}, neither good nor bad.",
            "The {thing} arrived on Tuesday and the {aspect} is {adj}.",
            "Nothing special about the {thing}, just {a_adj} {aspect}.",
            "The {aspect} was fine; a fairly {adj} {thing} overall.",
        ],
    },
}


def sentiment_rows(rng: random.Random, per_class: int = 100) -> list[tuple[str, str]]:
    rows = []
    for label, tone in TONES.items():
        texts: set[str] = set()
        while len(texts) < per_class:
            adj = rng.choice(tone["adjectives"])
            a_adj = f"{'an' if adj[0] in 'aeio' else 'a'} {adj}"
            template = rng.choice(tone["templates"])
            texts.add(template.format(thing=rng.choice(THINGS), aspect=rng.choice(ASPECTS), adj=adj, a_adj=a_adj))
        rows += [(text, label) for text in sorted(texts)]
    rng.shuffle(rows)
    return rows


# ---------------------------------------------------------------- paired sentences

# Each slot lists phrases that mean the same; a pair is built from one choice per slot, written two ways.
NEWS = {
    "subject": [["The company", "The firm"], ["My neighbour", "The man next door"],
                ["The city council", "The local council"], ["Our teacher", "The class teacher"],
                ["The football team", "The squad"], ["The old bakery", "The corner bakery"],
                ["The hospital", "The clinic"], ["My aunt", "My mother's sister"]],
    "action": [["bought a new van", "purchased a new van"],
               ["opened a shop downtown", "launched a store in the city centre"],
               ["cancelled the meeting", "called off the meeting"],
               ["finished the annual report", "completed the yearly report"],
               ["sold the old house", "sold off the old home"],
               ["fixed the broken fence", "repaired the damaged fence"],
               ["postponed the trip", "delayed the journey"],
               ["hired two new workers", "took on two new employees"],
               ["lost the spare keys", "misplaced the spare keys"],
               ["won the regional prize", "took the regional award"]],
    "time": [["yesterday", "the day before"], ["on Monday", "on Monday"], ["last week", "the previous week"],
             ["this morning", "earlier today"], ["in March", "back in March"]],
}
SCENES = {
    "subject": [["A man", "A guy"], ["A woman", "A lady"], ["A little girl", "A young girl"], ["A dog", "A puppy"],
                ["A boy", "A kid"], ["A chef", "A cook"], ["An old man", "An elderly man"], ["A cat", "A kitten"]],
    "action": [["is playing a guitar", "is strumming a guitar"], ["is slicing an onion", "is cutting an onion"],
               ["is riding a bicycle", "is riding a bike"], ["is reading a newspaper", "is looking at a paper"],
               ["is chasing a ball", "is running after a ball"], ["is eating a sandwich", "is having a sandwich"],
               ["is painting a picture", "is drawing a picture"], ["is climbing a tree", "is going up a tree"],
               ["is washing a car", "is cleaning a car"], ["is singing a song", "is performing a song"]],
    "time": [["in the park", "at the park"], ["on the street", "on the road"], ["in the kitchen", "in a kitchen"],
             ["on a stage", "on stage"], ["at the beach", "by the sea"], ["in the garden", "in the yard"]],
}


def sentence(slots: dict, picks: dict, variant: int, fronted: bool) -> str:
    subject, action, time = (slots[slot][picks[slot]][variant] for slot in ("subject", "action", "time"))
    if fronted:
        return f"{time[0].upper()}{time[1:]}, {subject[0].lower()}{subject[1:]} {action}."
    return f"{subject} {action} {time}."


def pair(rng: random.Random, slots: dict, changed: tuple[str, ...]) -> tuple[str, str]:
    """Two sentences: the same meaning in other words, except for the slots in `changed`, which differ."""
    first = {slot: rng.randrange(len(options)) for slot, options in slots.items()}
    second = dict(first)
    for slot in changed:
        second[slot] = rng.choice([i for i in range(len(slots[slot])) if i != first[slot]])
    return sentence(slots, first, 0, False), sentence(slots, second, 1, rng.random() < 0.5)


def paraphrase_rows(rng: random.Random, per_class: int = 150) -> list[tuple[str, str, str]]:
    kinds = {"paraphrase": [()], "not_paraphrase": [("subject",), ("action",), ("time",), ("subject", "action")]}
    rows = []
    for label, changes in kinds.items():
        pairs: set[tuple[str, str]] = set()
        while len(pairs) < per_class:
            pairs.add(pair(rng, NEWS, rng.choice(changes)))
        rows += [(a, b, label) for a, b in sorted(pairs)]
    rng.shuffle(rows)
    return rows


# Which slots differ -> the range of similarity scores (0 unrelated .. 5 same meaning), STS style.
GRADES = [((), (4.4, 5.0)), (("time",), (3.4, 4.0)), (("subject",), (2.6, 3.2)), (("action",), (1.4, 2.2)),
          (("subject", "action"), (0.6, 1.2)), (("subject", "action", "time"), (0.0, 0.4))]


def similarity_rows(rng: random.Random, per_grade: int = 50) -> list[tuple[str, str, str]]:
    rows, seen = [], set()
    for changed, (low, high) in GRADES:
        count = 0
        while count < per_grade:
            texts = pair(rng, SCENES, changed)
            if texts not in seen:
                seen.add(texts)
                rows.append((*texts, f"{rng.uniform(low, high):.1f}"))
                count += 1
    rng.shuffle(rows)
    return rows


def write(name: str, header: list[str], rows: list[tuple]) -> None:
    with open(HERE / name, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


if __name__ == "__main__":
    write("sentiment_reviews.csv", ["text", "label"], sentiment_rows(random.Random(1)))
    write("paraphrase_pairs.csv", ["sentence1", "sentence2", "label"], paraphrase_rows(random.Random(2)))
    write("similarity_scores.csv", ["sentence1", "sentence2", "score"], similarity_rows(random.Random(3)))
