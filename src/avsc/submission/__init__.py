"""DCASE 2021 Task 1B challenge submission: a registered model on the 1-s evaluation set → a package.

:mod:`.clips` (the evaluation set's clips, in order), :mod:`.infer` (batched inference through
:class:`avsc.inference.ModelBundle`), :mod:`.progress` (resumable chunks), :mod:`.output_csv`,
:mod:`.meta` (meta YAML), :mod:`.complexity` (parameter counts), :mod:`.source` (the model
version's evaluate run), :mod:`.package` (the zip), :mod:`.run` (``avsc submission``).
"""
