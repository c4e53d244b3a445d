"""``python -m mfat run|build|list ...``: the chapter runner (:mod:`mfat.site.runner`)."""

from mfat.site.runner import main

raise SystemExit(main())
