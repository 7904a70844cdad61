"""Qt-free generation engine. Importing this package loads neither torch nor Qt;
modules that need torch import it themselves."""
