"""Dataset validation with great-expectations: is a TAU-layout dataset fit to train on?

Roles, one per module: :mod:`.index` reads the index files into one frame; :mod:`.probe` reads
the media (read-only); :mod:`.frame` adds the columns the rules check; :mod:`.rules` holds the
expectation suite; :mod:`.suite` runs it through GX and turns failures into problems;
:mod:`.report` writes ``validation.json`` (GX Data Docs come from the suite) and holds the gate
:func:`require_valid`; :mod:`.validate` joins them; :mod:`.entry` is the ``validate`` stage and
``avsc validate``.

The package imports nothing itself, so a stage that only needs the gate does not load GX.
"""
