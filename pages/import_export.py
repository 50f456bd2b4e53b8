"""Import & export: load historical events from a CSV (with progress and a report of rejected rows), download all."""

from __future__ import annotations

import streamlit as st

from services import imports
from services.errors import ServiceError
from ui import data
from ui.auth import current_user
from ui.components import read_only_notice

user = current_user()
st.title("Import & export events")
read_only_notice(user.can_edit)

st.subheader("Import a CSV")
st.markdown(
    "Header row required. Columns: **event_type** (required), `lead_id`, `timestamp` (RFC3339, e.g. "
    "`2025-08-15T12:00:00Z`), `metadata` (a JSON object), `source`, and the alias columns "
    "`external_id`, `email`, `phone`, `cookie`, `social` (each row needs `lead_id` or an alias)."
)
upload = st.file_uploader("CSV file", type=["csv"], disabled=not user.can_edit, key="import_file")
if upload is not None and st.button("Import", type="primary", disabled=not user.can_edit, key="import_run"):
    try:
        imports.require_import_rights(user.role)
        parsed = imports.parse_csv(upload.getvalue())
    except (ServiceError, UnicodeDecodeError) as exc:
        st.error(getattr(exc, "message", "the file must be UTF-8 text"))
        st.stop()
    progress = st.progress(0.0, text=f"Importing {parsed.total:,} rows…")
    report = data.import_events(
        user, parsed, lambda done, total: progress.progress(done / total, text=f"Imported {done:,} of {total:,} rows")
    )
    st.session_state["import_report"] = report.as_dict()

report = st.session_state.get("import_report")
if report:
    (st.success if not report["rejected"] else st.warning)(
        f"Imported {report['ingested']:,} of {report['total']:,} rows; {report['rejected']:,} rejected."
    )
    if report["errors"]:
        st.dataframe(
            [{"Row": e["row"], "Column": e["column"] or "—", "Problem": e["message"]} for e in report["errors"]],
            hide_index=True, width="stretch", key="import_errors",
        )

st.subheader("Export")
st.caption("Every event of this unit, in the order they were logged (also GET /v1/events/export in the API).")
if st.button("Prepare CSV export", key="export_prepare"):
    st.session_state["export_csv"] = data.export_events_csv(user.tenant)
if st.session_state.get("export_csv"):
    st.download_button("Download events.csv", st.session_state["export_csv"], file_name="events.csv",
                       mime="text/csv", key="export_download")
