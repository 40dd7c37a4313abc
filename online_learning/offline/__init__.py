"""The offline side: the simulated world, its customers, the evaluation and error analysis.

The worker never imports this package. It holds what runs without a broker to judge or drive
the worker's path: the Instacart example data (``instacart``), simulated customers
(``populations``, ``simulation``), the replay evaluation (``evaluation``), off-policy estimates
(``off_policy``), confident-mistake analysis (``horror``) and the frozen-prior shadow (``shadow``).
"""
