from benchlink.cli.main import main

raise SystemExit(main())
