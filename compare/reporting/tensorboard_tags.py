"""Names of the TensorBoard tags that the runs write and the sweep's dashboard layout reads."""


def task_tag(task_name: str, what: str) -> str:
    """The task-qualified copy of a scalar (custom-scalars charts select by tag only, not by run)."""
    return f"by_task/{task_name}/{what}"
