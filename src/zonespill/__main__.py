from zonespill.cli import main

raise SystemExit(main())
