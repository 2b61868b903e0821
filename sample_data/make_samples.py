"""Write the sample CSVs: `python sample_data/make_samples.py` (deterministic; same files every run).

The sentences are built from small phrase tables so the labels are learnable: the words carry the sentiment,
pairs differ in exactly the slots that make them paraphrases, not paraphrases, or more or less similar, and each
support ticket carries one phrase per label it has.
The extractive QA sample's tables are in `qa_tables.py`, the named-entity sample's in `ner_tables.py`.
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

from ner_tables import ner_rows  # beside this script, which runs as `python sample_data/make_samples.py`
from qa_tables import qa_rows

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


# ---------------------------------------------------------------- support_tickets_multilabel.csv

# Label -> ways a ticket says it; a ticket joins one or two topics, and an urgent one adds a plea for speed. Words are
# shared across labels on purpose ("profile", "payments", "sign in"), so no single word gives a label away.
TICKET_TOPICS = {
    "billing": ["I was charged twice for my {plan} plan", "the invoice for {month} shows the wrong amount",
                "my card payment for the {plan} plan was declined", "I need a receipt for the {month} payment",
                "the monthly fee went up without any notice", "please refund the extra charge on my statement"],
    "delivery": ["my parcel has not arrived after {days} days", "the tracking number for my order does not work",
                 "the courier left the box at the wrong address", "the package arrived damaged and half empty",
                 "my order was sent to my old address", "the delivery was promised for {weekday} but never came"],
    "technical": ["the app crashes every time I open the {screen} screen",
                  "the {screen} page shows an error and will not load",
                  "the website freezes when I press the save button",
                  "the export button does nothing in the latest version",
                  "the app keeps signing me out and forgets my {screen} settings",
                  "notifications stopped working after the last update"],
    "account": ["I cannot sign in although I reset my password", "please change the email address on my profile",
                "I would like to delete my profile and all my data", "someone else may have signed into my profile",
                "the sign-in code never reaches my phone", "I want to add a second user to my profile"],
}
URGENT = ["This is urgent, please help today.", "Please fix this as soon as possible.",
          "My whole team is blocked until this is fixed.", "I need this sorted before {weekday}, it cannot wait.",
          "We lose customers every hour this goes on.", "Please call me back immediately."]
CALM = ["No rush, whenever you have time.", "Just letting you know.", "Thanks in advance.",
        "It is not a big deal, but I noticed it on {weekday}.", "Whenever you get a chance, thank you.", ""]
NO_LABEL = ["thank you for the quick help last {weekday}, everything works now",
            "just wanted to say the new {screen} screen looks great", "I wonder whether you have an office in {city}",
            "great service as always, keep it up", "I would like to know if your shop in {city} opens on holidays",
            "I would like to know when the {plan} plan gets new features",
            "happy to recommend you to my friends in {city}", "your team solved my problem on {weekday}, thanks"]
FILLERS = {"plan": ["basic", "family", "premium", "student"], "month": ["January", "March", "June", "October"],
           "days": ["five", "ten", "twelve"], "weekday": ["Monday", "Tuesday", "Friday"],
           "screen": ["settings", "payments", "profile", "search"], "city": ["Leeds", "Porto", "Gdansk", "Lyon"]}
GREETINGS = ["", "Hi, ", "Hello, ", "Good morning, "]


def filled(rng: random.Random, phrase: str) -> str:
    return phrase.format(**{slot: rng.choice(words) for slot, words in FILLERS.items()})


def ticket(rng: random.Random, topics: list[str], urgent: bool) -> str:
    """One clause per topic (a remark that needs nothing when there is none), then a plea for speed or a calm end."""
    clauses = [filled(rng, rng.choice(TICKET_TOPICS[topic])) for topic in topics] or [filled(rng, rng.choice(NO_LABEL))]
    body = rng.choice(GREETINGS) + (", and ".join(clauses) if rng.random() < 0.5 else ". Also, ".join(clauses))
    tail = filled(rng, rng.choice(URGENT if urgent else CALM))
    return f"{body[0].upper()}{body[1:]}. {tail}".strip()


def ticket_rows(rng: random.Random, counts: tuple[int, int, int] = (45, 165, 90)) -> list[tuple[str, str]]:
    """`counts`: tickets with no label, with one topic and with two topics; about a third of the topic tickets are
    urgent. Labels are joined by | in the order the ticket mentions them."""
    rows, seen = [], set()
    for topic_count, wanted in enumerate(counts):
        made = 0
        while made < wanted:
            topics = rng.sample(sorted(TICKET_TOPICS), topic_count)
            urgent = topic_count > 0 and rng.random() < 0.33
            text = ticket(rng, topics, urgent)
            if text not in seen:
                seen.add(text)
                rows.append((text, "|".join(topics + ["urgent"] * urgent)))
                made += 1
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
    write("qa_questions.csv", ["context", "question", "answer_text", "answer_start"], qa_rows(random.Random(4)))
    write("support_tickets_multilabel.csv", ["text", "labels"], ticket_rows(random.Random(5)))
    write("ner_people_places.csv", ["tokens", "tags"], ner_rows(random.Random(6)))
