"""The figures of the chapters, one module per chapter stem; each function draws one figure from a result
(the measurement's dict or table) in the book's theme (:mod:`mfat.chapter.plotting`) and returns it."""
