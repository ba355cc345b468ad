"""Imports: a CSV export in, source records and golden records out, whole or not at all.

The path every import takes (browser, API and `import_records` alike):

1. Sniff the file in Python without parsing its rows: size, binary content, encoding (UTF-8
   with or without BOM, else Windows-1252, else Latin-1), delimiter, header; refuse a file
   that misses required columns before any row is read.
2. COPY the raw bytes into a temp table of text columns. PostgreSQL parses the CSV (quoted
   newlines, CRLF, the delimiter) and numbers the rows; a row with too many or too few fields
   or an unterminated quote stops it, and a Python pass then lists every such row.
3. Check and normalise every cell in one set-based statement: dates in the mapping's order and
   time zone, amounts with symbols and separators, emails, domains, value maps, lengths.
   Only emails and domains the SQL fast path cannot vouch for go through Python one by one.
4. If any cell is wrong, store the problems (row, column, value, reason) and write nothing.
   Otherwise, when the batch is to apply, upsert the source rows (unchanged rows are skipped by
   their hash) and resolve the golden records they touch, in one transaction.

Memory stays flat whatever the file size: Python only ever holds a chunk of bytes.

Modules, in the order a file goes through them:

- `reading`: sniffing the file and loading its rows (steps 1 and 2);
- `normalise_sql`: the SQL that checks and normalises every cell (step 3);
- `checks`: problems, held rows, preview and findings (step 3);
- `staging`: the rows that change something, waiting in `_pending` (step 4);
- `batch`: the batch's life from upload to applied, which runs the others;
- `base`: what they share.

What the rest of the app uses is imported here.
"""

from pipeline.services.identity import WRITE_LOCK
from pipeline.services.imports.base import ImportRejected, RowError
from pipeline.services.imports.batch import (
    import_batch_confirm,
    import_batch_create,
    import_batch_draft_create,
    import_batch_draft_header,
    import_batch_draft_map,
    import_batch_enqueue,
    import_batch_run,
    mapping_for,
    system_check,
)
from pipeline.services.imports.checks import HELD_PROBLEM_COLUMN, held_rows_lines, row_errors_csv
from pipeline.services.imports.reading import (
    FileFormat,
    check_columns,
    header_vendor,
    max_file_bytes,
    sniff_file,
    spelled_as_file,
)

__all__ = [
    "HELD_PROBLEM_COLUMN",
    "WRITE_LOCK",
    "FileFormat",
    "ImportRejected",
    "RowError",
    "check_columns",
    "header_vendor",
    "held_rows_lines",
    "import_batch_confirm",
    "import_batch_create",
    "import_batch_draft_create",
    "import_batch_draft_header",
    "import_batch_draft_map",
    "import_batch_enqueue",
    "import_batch_run",
    "mapping_for",
    "max_file_bytes",
    "row_errors_csv",
    "sniff_file",
    "spelled_as_file",
    "system_check",
]
