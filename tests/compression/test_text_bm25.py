"""BM25 ranking, term extraction and stemming used by the query-aware stages."""

from __future__ import annotations

from opencompress.compression.text.bm25 import BM25, index_terms, query_terms, rank, stem, words

DOCS = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, completed in 1889.",
    "The Great Wall of China was built over many centuries by successive dynasties.",
    "Mount Everest is Earth's highest mountain above sea level, in the Himalayas.",
    "The European Union is a political and economic union of member states in Europe.",
]


def test_relevant_document_ranks_first() -> None:
    bm = BM25([index_terms(d) for d in DOCS])
    scores = bm.scores(query_terms("Question: when was the eiffel tower completed?\nAnswer:"))
    assert rank(scores)[0] == 0
    assert scores[0] > 0
    assert scores[1] == 0.0


def test_stemming_joins_word_forms_but_not_numbers() -> None:
    assert stem("european") == stem("europe")
    assert stem("olympics") == stem("olympic")
    assert stem("grey's") == "grey"
    assert stem("1901") != stem("1902")
    bm = BM25([index_terms(d) for d in DOCS])
    assert rank(bm.scores(query_terms("which union do europeans belong to")))[0] == 3


def test_query_terms_drop_stop_and_frame_words_and_add_compounds() -> None:
    terms = query_terms("Question: where is the gall bladder in the human body?\nAnswer:")
    assert "question" not in terms and "answer" not in terms
    assert "the" not in terms
    assert stem("gallbladder") in terms  # adjacent pair glued
    assert terms == list(dict.fromkeys(terms))  # distinct, first-seen order


def test_ties_keep_original_order_and_scores_are_deterministic() -> None:
    bm = BM25([["x"], ["y"], ["x"]])
    assert rank(bm.scores(["x"])) == [0, 2, 1]
    assert bm.scores(["x"]) == BM25([["x"], ["y"], ["x"]]).scores(["x"])


def test_words_are_lowercased_and_keep_inner_apostrophes() -> None:
    assert words("Don't STOP, it's 42!") == ["don't", "stop", "it's", "42"]


def test_empty_inputs_do_not_crash() -> None:
    assert BM25([]).scores(["a"]) == []
    assert BM25([[]]).scores(["a"]) == [0.0]
    assert query_terms("") == []


def test_vocabulary_restricted_index_scores_the_same() -> None:
    docs = [index_terms(d) for d in DOCS]
    query = query_terms("is the tower in paris higher than mount everest")
    assert BM25(docs, vocabulary=query).scores(query) == BM25(docs).scores(query)


def test_country_abbreviations_also_ask_for_the_spelled_out_name() -> None:
    terms = query_terms("who is the president of usa right now")
    assert {"usa", "unit", "stat"} <= set(terms)
    assert {"uk", "unit", "king", "brit"} <= set(query_terms("longest pier in the uk"))
    assert "unit" not in query_terms("who wrote the iliad")


def test_small_numbers_also_ask_for_their_roman_and_word_forms() -> None:
    terms = set(query_terms("when did the us enter world war 2"))
    assert {"2", "ii", "two", "seco"} <= terms  # words are stemmed like any other term
    assert {"2", "ii"} <= set(query_terms("when did the second world war end"))
    assert "xxi" not in query_terms("what happened in 21 days")  # only 1-20
    assert "1901" in query_terms("nobel prize 1901")  # years stay whole, nothing added
    assert len(query_terms("nobel prize 1901")) == len(query_terms("nobel prize")) + 2  # + bigram
