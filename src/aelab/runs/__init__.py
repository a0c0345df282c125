"""Run folders: the unit of output. The folder and its lock, checkpoints, saved runs, figures and summaries.

Every task (tasks/) writes through this package; nothing here knows which task is running. It may import
the data, models, objectives, plots and train packages, never tasks or studies.
"""
