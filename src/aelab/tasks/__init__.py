"""What aelab does with data: train one model, the bottleneck sweep (with PCA), anomaly detection, probes.

Each task fills run folders through runs/; a study (studies/) runs tasks by kind. `recipe.py` is the one
way a run's model and trainer are made from a config, shared by every task and the Python API.
"""
