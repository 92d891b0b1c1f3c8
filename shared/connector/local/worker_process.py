"""``python -m connector.local.worker_process``: one queue worker of a LocalRuntime, in a
process of its own (see connector.local.workers). Not imported by the package, so running
it as ``__main__`` never meets a second copy of itself."""

from connector.local.workers import main

if __name__ == "__main__":
    main()
