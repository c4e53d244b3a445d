"""``python -m mfat run|build|list ...``: the chapter runner (:mod:`mfat.site.runner`); ``python -m mfat plan ...``:
what every chapter costs at a tier and how long it takes on GPUs (:mod:`mfat.chapter.plan`)."""

import sys

if sys.argv[1:2] == ["plan"]:
    from mfat.chapter.plan import main as plan_main

    raise SystemExit(plan_main(sys.argv[2:]))

from mfat.site.runner import main

raise SystemExit(main())
