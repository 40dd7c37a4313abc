"""Error analysis of a deployment's own topics: what ``fillrate horror`` reports.

The pieces, one job each, none touching Kafka (streams/horror_cmd.py reads the topics):

- :mod:`~.join`: feedback joined to the ranking or reply that offered its substitute;
- :mod:`~.structural`: the catalog's structural themes of a (requested, substitute) pair;
- :mod:`~.comments`: themes in customers' comments (TF-IDF on character n-grams, k-means);
- :mod:`~.report`: the most confident mistakes and their themes, counted;
- :mod:`~.safe_text`: customers' text made safe to show;
- :mod:`~.render_text`, :mod:`~.render_markdown`, :mod:`~.render_html` (with :mod:`~.svg`):
  the terminal summary and the report file.
"""

from online_learning.offline.horror_report.join import Offer, OfferIndex, Verdict, join
from online_learning.offline.horror_report.report import HorrorReport, Mistake, Theme, build_report
from online_learning.offline.horror_report.structural import PairThemes

__all__ = [
    "HorrorReport",
    "Mistake",
    "Offer",
    "OfferIndex",
    "PairThemes",
    "Theme",
    "Verdict",
    "build_report",
    "join",
]
