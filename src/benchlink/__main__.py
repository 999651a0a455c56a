import sys

if sys.argv[1:2] == ["--benchlink-db-writer-child"]:
    # A frozen (PyInstaller) build re-enters here to run the database writer's child process.
    from benchlink.storage.writer_process import child_entry

    child_entry()
elif __name__ == "__main__":
    from benchlink.cli.main import main

    raise SystemExit(main())
