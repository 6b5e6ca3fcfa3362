"""Real data into the project: ``avsc data add`` (:mod:`.add`) and ``avsc data download`` (:mod:`.download`).

Layout check: :mod:`.layout`. Copy-on-write clones: :mod:`.clone`; the resumable tree copy:
:mod:`.tree`; DVC's command line: :mod:`.dvc_repo`. Archive lists: :mod:`.archives` (the official
one: ``tau2021_development.json``); resumable verified HTTP: :mod:`.fetch`; safe unpacking:
:mod:`.extract`. Arguments: :mod:`.cli`.
"""
