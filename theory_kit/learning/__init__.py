"""Learning tasks defined by programs: datasets from the interpreter, small models trained in
JAX, sample complexity with and without chain of thought (issue 19; needs theory_kit[learn]).

    tasks         Task (a library CoT program + a seeded input distribution), Dataset
    models        decoder transformer and MLP baseline (JAX)
    training      train many models at once (vmap over seeds and training-set sizes), evaluate
    complexity    smallest training-set size reaching a target accuracy, bootstrap, growth fits
    experiments   parity / addition / composition: configurations, figures, sweep cells
    construction  the compiled program's loss next to the trained models' (landscape link)
"""
