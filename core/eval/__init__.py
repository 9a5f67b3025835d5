"""Evaluation: reconstruction metrics, the scene feature network and scene distances, condition
adherence, temporal consistency, and the report that gathers them (`python -m core.eval report`)."""
