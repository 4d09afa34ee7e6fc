from nai_script.cli.main import main

raise SystemExit(main())
