"""The one line every failing command ends with."""

import pytest
import typer

from pipelines.cli_common import one_line_errors


def test_a_failure_is_one_line_that_keeps_its_brackets(capsys):
    @one_line_errors
    def failing_command() -> None:
        raise ValueError("row 3, column sku_code: unknown SKU '[bold]X1'\n  see the report")

    with pytest.raises(typer.Exit) as exit_info:
        failing_command()
    assert exit_info.value.exit_code == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: row 3, column sku_code: unknown SKU '[bold]X1' see the report"
    ]
