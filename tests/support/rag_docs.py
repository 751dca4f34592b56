"""A small document collection for the question-aware selection tests: one passage answers
"when was the lighthouse of alexandria constructed" (``GOLD``), the others share its words."""

GOLD = (
    "Lighthouse of Alexandria",
    "The Lighthouse of Alexandria was constructed by the Ptolemaic Kingdom around 280 BC on the island "
    "of Pharos. It was between 103 and 118 metres tall. For many centuries it was one of the tallest "
    "man-made structures in the world.",
)
DISTRACTORS = [
    (
        "Alexandria",
        "Alexandria is the second largest city in Egypt. It was founded in 331 BC by Alexander "
        "the Great. The city lies on the Mediterranean coast and has a population of about 5 million.",
    ),
    (
        "Lighthouse",
        "A lighthouse is a tower designed to emit light from a system of lamps and lenses. "
        "Lighthouses mark dangerous coastlines and safe entries to harbours for ships at sea.",
    ),
    (
        "Great Wall of China",
        "The Great Wall of China is a series of fortifications built across the "
        "historical northern borders of ancient Chinese states. "
        "Several walls were built from the 7th century BC.",
    ),
    (
        "Colosseum",
        "The Colosseum is an elliptical amphitheatre in the centre of the city of Rome. "
        "Construction began under the emperor Vespasian in AD 72 and was completed in AD 80.",
    ),
    (
        "Mount Everest",
        "Mount Everest is Earth's highest mountain above sea level, located in the "
        "Mahalangur Himal sub-range of the Himalayas. Its elevation is 8,849 metres.",
    ),
    (
        "Amazon River",
        "The Amazon River in South America is the largest river by discharge volume of "
        "water in the world. It flows for roughly 6,400 kilometres to the Atlantic Ocean.",
    ),
    (
        "Printing press",
        "The printing press is a mechanical device for applying pressure to an inked "
        "surface. Johannes Gutenberg developed a movable-type press around 1440 in Mainz.",
    ),
    (
        "Photosynthesis",
        "Photosynthesis is the process used by plants and other organisms to convert light "
        "energy into chemical energy. It releases oxygen as a by-product of splitting water.",
    ),
    (
        "Byzantine Empire",
        "The Byzantine Empire was the continuation of the Roman Empire in its eastern "
        "provinces. Its capital was Constantinople and it lasted until the city fell in 1453.",
    ),
    (
        "Pharos",
        "Pharos was a small island in the western Nile delta. A causeway later connected it to "
        "the mainland, and its name became a common word for lighthouses in several languages.",
    ),
    (
        "Seven Wonders",
        "The Seven Wonders of the Ancient World were remarkable constructions listed by "
        "Greek authors. Only the Great Pyramid of Giza still stands today near Cairo.",
    ),
]
