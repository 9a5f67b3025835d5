"""Evaluation: reconstruction metrics now; sample quality and condition adherence later (issue 6)."""
