from bots.cli.main import main

raise SystemExit(main())
