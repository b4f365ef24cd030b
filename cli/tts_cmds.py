from cli.groups import CommandGroups


def register(groups: CommandGroups) -> None:
    """Commands of this concern are added here."""
