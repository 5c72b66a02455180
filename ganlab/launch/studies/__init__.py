"""The commands that train many runs for one question: the collapse benchmark
(benchmark.py, catalogue_runs.py, rewind_study.py), the real-digits study
(digits_study.py), the demo (demo.py) and `ganlab-study` (study_cli.py). What they train
is described and scored by ganlab.study; these modules only launch it."""
