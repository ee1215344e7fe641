"""Learning tasks defined by programs: datasets from the interpreter, small models trained in
JAX, sample complexity with and without chain of thought (issue 19; needs theory_kit[learn]).

    tasks        Task (a library CoT program + a seeded input distribution), Dataset
    models       decoder transformer and MLP baseline (JAX)
    training     train many models at once (vmap over seeds and training-set sizes), evaluate
"""
