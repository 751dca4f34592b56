"""Tokenizer-free text helpers for the query-aware stages: word splitting, stop words, BM25 ranking,
sentence splitting and document/demonstration segmentation. Everything is deterministic and cheap
(regexes and dicts), because the stages must run at hundreds of thousands of tokens per second on
one core."""
