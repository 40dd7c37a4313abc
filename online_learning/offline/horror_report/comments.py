"""Themes in customers' comments: character n-grams, k-means, k by silhouette.

Character n-grams within words ("glu", "lute", "uten") match a misspelt word to the right one
and work for any language without a tokenizer or a downloaded model; k-means on the
L2-normalised vectors groups comments that share them; the number of groups is the one with
the best silhouette (cosine) among 2 to ``max_k``, or a single group when no split is clearly
better. Each group is described by the words most particular to it.

>>> comments = ["gluten free please", "not glutenfree!", "I am celiac, gluten", "gluten again",
...             "too expensive", "way too expensive", "expensiv", "expensive price"]
>>> groups = cluster_comments(comments)
>>> sorted(sorted(g.members) for g in groups)
[[0, 1, 2, 3], [4, 5, 6, 7]]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from online_learning.offline.horror_report.safe_text import plain

__all__ = ["CommentCluster", "cluster_comments", "comment_words"]

MAX_K = 12
# Below this silhouette no split is trusted: the comments are one theme (or noise).
MIN_SILHOUETTE = 0.05
# Comments clustered at most (the most confident mistakes first): k-means and the silhouette
# grow with n times k, and a few thousand comments show every theme a person will read.
MAX_COMMENTS = 3000
CLUSTER_TEXT_LIMIT = 500
_WORD = re.compile(r"[^\W\d_]{3,}")
# Words too common in any grocery complaint to say what a group is about.
_STOPWORD_TEXT = (
    "the and for not but was are you this that with have had has too very all any its"
    " our out get got can just really would could should will did does what when there"
    " they them then than from into only also one yes item product order"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class CommentCluster:
    """One group of comments: indices into the list clustered, and its particular words."""

    members: tuple[int, ...]
    top_terms: tuple[str, ...]


def comment_words(text: str) -> list[str]:
    """The words of a comment that can describe a theme (lower case, 3+ letters)."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def cluster_comments(
    comments: Sequence[str], max_k: int = MAX_K, seed: int = 0, terms: int = 5
) -> list[CommentCluster]:
    """Group ``comments`` by theme, largest group first (empty input: no groups)."""
    texts = [plain(c, CLUSTER_TEXT_LIMIT).lower() for c in comments[:MAX_COMMENTS]]
    usable = [i for i, t in enumerate(texts) if t]
    if not usable:
        return []
    # The words that can carry a theme: in short comments, "the", "this is" and "my" would
    # otherwise weigh as much as "gluten" and pull unrelated complaints together.
    labels = _labels([" ".join(comment_words(texts[i])) or texts[i] for i in usable], max_k, seed)
    groups: dict[int, list[int]] = {}
    for index, label in zip(usable, labels, strict=True):
        groups.setdefault(int(label), []).append(index)
    everywhere = Counter(w for i in usable for w in set(comment_words(texts[i])))
    clusters = [
        CommentCluster(tuple(members), _top_terms(texts, members, everywhere, len(usable), terms))
        for members in groups.values()
    ]
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters


def _labels(texts: list[str], max_k: int, seed: int) -> list[int]:
    """A group number per text.

    Distinct texts are clustered, each weighted by how often it was sent: many copies of one
    short complaint ("wrong size") would otherwise make a group of their own, identical points
    the silhouette rewards however close their theme is to another.
    """
    # scikit-learn is imported here: only this report needs it, not the worker
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import silhouette_score

    counts = Counter(texts)
    distinct = sorted(counts)
    if len(distinct) < 4:
        return [0] * len(texts)
    weights = np.array([counts[t] for t in distinct], dtype=np.float64)
    # No inverse document frequency: a theme's key word ("gluten") is in most of its comments
    # by definition, and IDF would weigh it down exactly for that; the common words it would
    # have weighed down are gone already (comment_words).
    vectors = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, use_idf=False
    ).fit_transform(distinct)
    best_score, best = MIN_SILHOUETTE, np.zeros(len(distinct), dtype=int)
    # at least two distinct texts per group on average: a theme is more than one wording
    for k in range(2, min(max_k, len(distinct) // 2) + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(
            vectors, sample_weight=weights
        )
        if len(set(labels.tolist())) < 2:
            continue
        score = float(
            silhouette_score(
                vectors,
                labels,
                metric="cosine",
                sample_size=min(len(distinct), 2000),
                random_state=seed,
            )
        )
        if score > best_score:
            best_score, best = score, labels
    label_of = dict(zip(distinct, best.tolist(), strict=True))
    return [label_of[t] for t in texts]


def _top_terms(
    texts: list[str], members: list[int], everywhere: Counter[str], total: int, terms: int
) -> tuple[str, ...]:
    """Words frequent in the group and rarer elsewhere (share in group - share elsewhere)."""
    inside = Counter(w for i in members for w in set(comment_words(texts[i])))
    outside_n = max(total - len(members), 1)

    def particular(word: str) -> float:
        share_in = inside[word] / len(members)
        share_out = (everywhere[word] - inside[word]) / outside_n
        return share_in - share_out

    ranked = sorted(inside, key=lambda w: (-particular(w), -inside[w], w))
    return tuple(w for w in ranked if particular(w) > 0)[:terms]
