"""The phrase tables behind `qa_questions.csv` (extractive QA, SQuAD 2.0 style); `make_samples.py` writes the file.

Each context describes one invented town, person, ship, firm, bridge or festival in sentences that each state a
fact. A question about a fact the context states is answered by a span of it (a name, a number, a place, a date);
a question about a fact of the same kind that this context leaves out has no answer. Filler sentences carry other
years, names and numbers, so finding the answer takes reading the question, not picking the only year in sight.
"""
from __future__ import annotations

import random

FIRST = ["Edda", "Tomas", "Ilse", "Rafael", "Mireille", "Jonas", "Agnieszka", "Bram", "Cosima", "Dmitri", "Eleni",
         "Farouk", "Greta", "Hiroshi", "Inès", "Joaquín", "Katja", "Lorenzo", "Maren", "Nuno", "Oskar", "Priya",
         "Quentin", "Rosalind", "Søren", "Tilde", "Ugo", "Valeria", "Wendel", "Yara", "Zoë"]
LAST = ["Albrecht", "Brandvold", "Castellan", "Dunmore", "Eskildsen", "Fairweather", "Granholm", "Halloran",
        "Ivanek", "Jarrow", "Kettering", "Lindqvist", "Marchetti", "Novak", "Okafor", "Pellegrin", "Quayle",
        "Rasmussen", "Sandoval", "Thornbury", "Vasquez", "Whitlock", "Yilmaz", "Zettler"]
PLACES = ["Velmora", "Ostbrook", "Karsel", "Dunhallow", "Pellin Bay", "Marrowick", "Tolvane", "Easthaven",
          "Brindlemoor", "Corvessa", "Ardley Cross", "Sundmark", "Halvik", "Ravensmere", "Quillon", "Lowenfeld",
          "São Meiral", "Skarnes", "Westerby", "Oldcastle Reach", "Fennick", "Grauholm", "Lisbury", "Moravec"]
RIVERS = ["River Varn", "River Tolla", "Silverrun", "River Ames", "River Kessel", "Blackwater", "River Orlin"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
THINGS = ["a folding lifeboat", "a frost-resistant wheat", "the pocket barometer", "a cheap clay water filter",
          "a counter for mechanical looms", "a glass heat exchanger", "a lamp for mine shafts", "a seed drill"]
PRODUCTS = ["bicycle lamps", "ceramic tiles", "marine radios", "wool blankets", "garden tools", "pressure cookers",
            "typewriter ribbons", "tin toys"]
SHIPS = ["Northern Wren", "Aurelia", "Stormpetrel", "Lady Marrow", "Kestrel II", "Saint Brendan", "Otterline",
         "Grey Heron", "Morning Star of Halvik", "Tern", "Valdemar", "Cormorant"]
FESTIVALS = ["Lantern Fair", "Herring Days", "Festival of Bells", "Apple Moon", "Winter Kites", "Salt Market",
             "Fiddlers' Week", "Night of Boats", "Cheese Parade", "Song of the Marsh", "Hop Harvest Fair"]
BRIDGES = ["Greyarch Bridge", "Kingfisher Bridge", "Tolvane Viaduct", "Old Ferry Bridge", "Copperline Bridge",
           "Saltgate Bridge", "Millrace Bridge", "Queen Ilse Bridge", "Heronsford Viaduct", "Lantern Bridge",
           "Brennan Footbridge"]
FIRMS = ["Halden & Rusk", "Brightwell Works", "Novak Brothers", "Ostbrook Ceramics", "Pellin Marine", "Lumen & Co",
         "Corvessa Textiles", "Fairweather Tools", "Quillon Radio", "Sundmark Foods", "Ardley Printing"]


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def date(rng: random.Random, low: int = 1820, high: int = 1990) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(low, high)}"


# Value makers by slot kind: each draws a fresh value.
VALUES = {
    "person": person,
    "year": lambda rng: str(rng.randint(1700, 1990)),
    "date": date,
    "place": lambda rng: rng.choice(PLACES),
    "river": lambda rng: rng.choice(RIVERS),
    "month": lambda rng: rng.choice(MONTHS),
    "thing": lambda rng: rng.choice(THINGS),
    "product": lambda rng: rng.choice(PRODUCTS),
    "count": lambda rng: f"{rng.randint(12, 950):,}",
    "population": lambda rng: f"{rng.randint(1_200, 95_000):,}",
    "metres": lambda rng: f"{rng.randint(40, 1_900)} metres",
    "money": lambda rng: f"{rng.randint(2, 90) / 10:.1f} million crowns",
}

# Topic -> (the entity's names, slot kinds, facts). A fact: (sentence templates, {slot: question templates}).
TOPICS = {
    "town": (PLACES, {"year": "year", "founder": "person", "river": "river", "population": "population",
                      "mayor": "person", "twin": "place", "month": "month"}, [
        (["{name} was founded in {year} by the merchant {founder}.",
          "The merchant {founder} founded {name} in {year}."],
         {"year": ["When was {name} founded?", "In which year was {name} founded?"],
          "founder": ["Who founded {name}?", "Which merchant founded {name}?"]}),
        (["The town lies on the {river}, which once carried timber to the coast.",
          "{name} grew up around a ford on the {river}."],
         {"river": ["Which river does {name} lie on?", "On what river was {name} built?"]}),
        (["At the last census {name} had {population} inhabitants.",
          "Some {population} people live in {name} today."],
         {"population": ["How many people live in {name}?", "What is the population of {name}?"]}),
        (["Its current mayor, {mayor}, was elected on a promise to reopen the railway.",
          "The town council is led by the mayor {mayor}."],
         {"mayor": ["Who is the mayor of {name}?", "Who leads the town council of {name}?"]}),
        (["{name} has been twinned with {twin} since the 1960s.",
          "A partnership with {twin} brings school exchanges every summer."],
         {"twin": ["Which town is {name} twinned with?", "What is the twin town of {name}?"]}),
        (["Its harvest market is held every {month}.", "Every {month} the square fills for the harvest market."],
         {"month": ["In which month is the harvest market of {name} held?", "When is the harvest market held?"]}),
    ]),
    "person": ([f"{first} {last}" for first in FIRST[:12] for last in LAST[:6]],
               {"born": "date", "birthplace": "place", "school": "place", "thing": "thing", "prize": "year",
                "died": "year", "partner": "person"}, [
        (["{name} was born on {born} in {birthplace}.", "Born in {birthplace} on {born}, {name} was the youngest "
                                                        "of five children."],
         {"born": ["When was {name} born?", "What is the birth date of {name}?"],
          "birthplace": ["Where was {name} born?", "In which town was {name} born?"]}),
        (["{name} studied engineering at the University of {school}.",
          "After school, {name} went to study engineering in {school}."],
         {"school": ["Where did {name} study engineering?", "Which university did {name} attend?"]}),
        (["{name} is best remembered for inventing {thing}.", "The invention of {thing} made {name} famous."],
         {"thing": ["What did {name} invent?", "What is {name} best remembered for inventing?"]}),
        (["The Gellart Prize came to {name} in {prize}.", "In {prize} {name} received the Gellart Prize."],
         {"prize": ["When did {name} win the Gellart Prize?", "In which year was {name} given the Gellart Prize?"]}),
        (["{name} worked for many years with {partner}.", "A long partnership with {partner} followed."],
         {"partner": ["Who did {name} work with for many years?", "Who was the long-time partner of {name}?"]}),
        (["{name} died in {died}.", "{name} died in {died}, still sketching new designs."],
         {"died": ["When did {name} die?", "In which year did {name} die?"]}),
    ]),
    "ship": (SHIPS, {"launched": "year", "yard": "place", "captain": "person", "crew": "count",
                     "destination": "place", "retired": "year"}, [
        (["The {name} was launched in {launched} at the yard in {yard}.",
          "Built in {yard}, the {name} was launched in {launched}."],
         {"launched": ["When was the {name} launched?", "In what year was the {name} launched?"],
          "yard": ["Where was the {name} built?", "In which town was the {name} built?"]}),
        (["Her first captain was {captain}.", "{captain} took command of her on the first voyage."],
         {"captain": ["Who was the first captain of the {name}?", "Who commanded the {name} on her first voyage?"]}),
        (["She sailed with a crew of {crew}.", "A crew of {crew} sailed on her."],
         {"crew": ["How large was the crew of the {name}?", "How many sailors were in the crew of the {name}?"]}),
        (["Her longest voyage took her to {destination}.", "The longest voyage of the {name} ended in "
                                                          "{destination}."],
         {"destination": ["Where did the longest voyage of the {name} go?",
                          "What was the destination of the {name}'s longest voyage?"]}),
        (["The {name} was retired in {retired}.", "She was taken out of service in {retired}."],
         {"retired": ["When was the {name} retired?", "In which year was the {name} taken out of service?"]}),
    ]),
    "firm": (FIRMS, {"year": "year", "founder": "person", "seat": "place", "product": "product",
                     "staff": "count", "chief": "person"}, [
        (["{name} was set up in {year} by {founder}.", "{founder} started {name} in {year}."],
         {"year": ["When was {name} set up?", "In which year was {name} founded?"],
          "founder": ["Who started {name}?", "Who founded {name}?"]}),
        (["The firm has its head office in {seat}.", "{name} is based in {seat}."],
         {"seat": ["Where is {name} based?", "Where is the head office of {name}?"]}),
        (["It is known above all for its {product}.", "Most of its money comes from {product}."],
         {"product": ["What is {name} known for?", "What does {name} make most of its money from?"]}),
        (["{name} employs {staff} people.", "The firm has a staff of {staff}."],
         {"staff": ["How many people does {name} employ?", "How large is the staff of {name}?"]}),
        (["Its chief executive is {chief}.", "{chief} has run the firm since the last merger."],
         {"chief": ["Who runs {name}?", "Who is the chief executive of {name}?"]}),
    ]),
    "bridge": (BRIDGES, {"opened": "date", "architect": "person", "length": "metres", "cost": "money",
                         "river": "river"}, [
        (["The {name} opened on {opened}.", "Traffic first crossed the {name} on {opened}."],
         {"opened": ["When did the {name} open?", "On what date did the {name} open?"]}),
        (["It was designed by the architect {architect}.", "The architect {architect} drew the plans."],
         {"architect": ["Who designed the {name}?", "Which architect drew the plans for the {name}?"]}),
        (["The span is {length} long.", "From bank to bank it measures {length}."],
         {"length": ["How long is the {name}?", "What is the length of the {name}?"]}),
        (["Building it cost {cost}.", "The works cost {cost} in the money of the day."],
         {"cost": ["How much did the {name} cost?", "What did building the {name} cost?"]}),
        (["It crosses the {river}.", "The bridge carries the road over the {river}."],
         {"river": ["Which river does the {name} cross?", "What river does the {name} span?"]}),
    ]),
    "festival": (FESTIVALS, {"first": "year", "city": "place", "visitors": "count", "organiser": "person",
                             "month": "month"}, [
        (["The {name} was first held in {first}.", "The first {name} took place in {first}."],
         {"first": ["When was the {name} first held?", "In which year did the first {name} take place?"]}),
        (["It takes place in {city}.", "Each year the {name} comes to {city}."],
         {"city": ["Where does the {name} take place?", "In which town is the {name} held?"]}),
        (["About {visitors} thousand visitors come each year.", "It draws some {visitors} thousand visitors."],
         {"visitors": ["How many visitors does the {name} draw?", "How many thousand visitors come to the {name}?"]}),
        (["It is organised by {organiser}.", "{organiser} has organised it for a decade."],
         {"organiser": ["Who organises the {name}?", "Who is the organiser of the {name}?"]}),
        (["It is held every {month}.", "The festival falls in {month}."],
         {"month": ["In which month is the {name} held?", "When in the year is the {name} held?"]}),
    ]),
}
# The first sentence of a context names what it is about, so that later sentences may say "it" or "her".
INTROS = {
    "town": "{name} is a small town in the hill country.",
    "person": "{name} was an engineer and inventor.",
    "ship": "The {name} was a three-masted merchant ship.",
    "firm": "{name} is a manufacturing firm.",
    "bridge": "The {name} is a stone bridge.",
    "festival": "The {name} is a festival held once a year.",
}
# Sentences with no fact anyone asks about, full of other years, names and numbers; long contexts get many.
FILLERS = [
    "In {a_year}, a storm damaged the harbour wall, which took {a_count} workers a summer to rebuild.",
    "A local historian, {a_person}, has written about those years at length.",
    "Visitors often remark on the quiet streets and the smell of bread from the bakeries.",
    "The archive in {a_place} keeps letters from that time, some dated {a_date}.",
    "Few records survive from before {a_year}, when a fire destroyed the old town hall.",
    "A newspaper of {a_date} described the scene in some detail.",
    "Schoolchildren still learn a song about it, written by {a_person}.",
    "The road to {a_place} was paved only in {a_year}.",
    "Photographs from {a_year} show crowds along the water.",
    "The museum lists {a_count} objects from the period, most of them donated by {a_person}.",
    "Opinions differ on how much of the story is legend.",
    "Trade with {a_place} brought wool, salt and news from abroad.",
    "In the hard winter of {a_year} the canals froze for weeks.",
    "A plaque unveiled on {a_date} marks the spot.",
    "The painter {a_person} spent a summer there and left a dozen small oil sketches.",
    "Rail links to {a_place} opened in {a_year} and closed again a lifetime later.",
    "A survey of {a_year} counted {a_count} houses with slate roofs.",
    "Older residents still tell of the flood of {a_year}.",
    "Much of the timber came by barge from {a_place}.",
    "A guidebook of {a_year} calls the place charming but damp.",
    "The correspondence of {a_person} mentions it more than once.",
    "On {a_date} the first electric street lamps were switched on nearby.",
    "A choir of {a_count} voices sang at the centenary.",
    "The cartographer {a_person} drew the first accurate map of the area.",
]
LONG_CONTEXT_FILLERS = (16, 22)  # about 200-300 words: needs several windows at max length 128
SHORT_CONTEXT_FILLERS = (0, 2)


def build_context(rng: random.Random, topic: str, name: str, long: bool) -> tuple[str, dict, list]:
    """The context text, {slot: (value, start)} for the facts it states, and the facts it leaves out."""
    _, slots, facts = TOPICS[topic]
    values = {}
    for slot, kind in slots.items():  # all different, so no answer can be mistaken for another
        while (value := VALUES[kind](rng)) == name or value in values.values():
            pass
        values[slot] = value
    stated = rng.sample(range(len(facts)), k=rng.randint(len(facts) - 3, len(facts) - 2))
    sentences = [(INTROS[topic], {})] + [(rng.choice(facts[i][0]), facts[i][1]) for i in sorted(stated)]
    low, high = LONG_CONTEXT_FILLERS if long else SHORT_CONTEXT_FILLERS
    for filler in rng.sample(FILLERS, k=rng.randint(low, high)):
        sentences.insert(rng.randint(1, len(sentences)), (filler, {}))
    text, answers = "", {}
    for template, questions in sentences:
        fields = dict(values, name=name, a_person=person(rng), a_year=VALUES["year"](rng), a_date=date(rng),
                      a_place=rng.choice(PLACES), a_count=VALUES["count"](rng))
        for slot in questions:  # where the value starts: the length of the sentence before it
            before = template[:template.index("{" + slot + "}")].format(**fields)
            answers[slot] = (values[slot], len(text) + len(before))
        text += template.format(**fields) + " "
    left_out = [facts[i] for i in range(len(facts)) if i not in stated]
    return text.strip(), answers, left_out


def qa_rows(rng: random.Random, contexts: int = 64, long_contexts: int = 8) -> list[tuple[str, str, str, str]]:
    """(context, question, answer_text, answer_start) rows, all questions about a context together; about a third
    have no answer ("" and "")."""
    topics = [topic for _ in range(contexts // len(TOPICS) + 1) for topic in TOPICS][:contexts]
    rng.shuffle(topics)
    long_ones = set(rng.sample(range(contexts), long_contexts))
    rows, used = [], set()
    for number, topic in enumerate(topics):
        name = rng.choice([n for n in TOPICS[topic][0] if (topic, n) not in used])
        used.add((topic, name))
        context, answers, left_out = build_context(rng, topic, name, number in long_ones)
        asked = rng.sample(sorted(answers), k=min(len(answers), rng.choice([3, 4, 4])))
        for slot in asked:
            question = rng.choice(_questions(TOPICS[topic][2], slot)).format(name=name)
            value, start = answers[slot]
            assert context[start:start + len(value)] == value, (context, value, start)
            rows.append((context, question, value, str(start)))
        unasked = [slot for _, questions in left_out for slot in questions]
        for slot in rng.sample(unasked, k=min(len(unasked), rng.choice([1, 2, 2]))):
            rows.append((context, rng.choice(_questions(TOPICS[topic][2], slot)).format(name=name), "", ""))
    return rows


def _questions(facts: list, slot: str) -> list[str]:
    return next(questions[slot] for _, questions in facts if slot in questions)
