"""Experiments beyond the one pipeline run: course presets and hyper-parameter sweeps.

A preset (presets.py) is a partial params.yaml; a sweep is a list of points (points.py), each
queued as one `dvc exp run` (queue.py) or run as one folder of the Snakemake sweep, whose params
file derive.py writes; collect.py reads the results back as rows, which tinykd.report.sweep turns
into a table and figures. cli.py is `tinykd sweep ...` and `tinykd preset ...`; dvc_command.py
runs dvc for all of them. The Snakemake sweep's rules are workflow/rules/sweep.smk.
"""
