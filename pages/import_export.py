"""Import & export: load historical events from a CSV (progress and rejected rows read from the import job),
download every event."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.errors import Conflict, ServiceError
from ui import data
from ui.auth import current_user
from ui.components import read_only_notice

JOB, PENDING, DUPLICATE, SEEN_DONE = "import_job_id", "import_pending", "import_duplicate", "import_seen_done"

user = current_user()
st.title("Import & export events")
read_only_notice(user.can_edit)


def start(allow_duplicate: bool) -> None:
    """Start importing the pending upload; the same file imported before asks first."""
    pending = st.session_state[PENDING]
    try:
        job_id = data.start_import(user, pending["name"], pending["data"], allow_duplicate=allow_duplicate)
    except Conflict as exc:
        st.session_state[DUPLICATE] = exc.message
        return
    except ServiceError as exc:
        st.session_state.pop(PENDING, None)
        st.error(exc.message)
        return
    for key in (PENDING, DUPLICATE, SEEN_DONE):
        st.session_state.pop(key, None)
    st.session_state[JOB] = job_id


def show_result(job: Any) -> None:
    total = job.total_rows or 0
    st.progress(1.0 if job.status == "done" else job.processed_rows / max(1, total),
                text=f"Read {job.processed_rows:,} of {total:,} rows")
    summary = f"Imported {job.accepted:,} of {total:,} rows from {job.filename}; {job.rejected:,} rejected."
    if job.status == "failed":
        st.error(f"The import stopped after {job.processed_rows:,} rows. " + summary)
    else:
        (st.success if not job.rejected else st.warning)(summary)
    if job.errors:
        if job.rejected > len(job.errors):
            st.caption(f"The first {len(job.errors):,} of {job.rejected:,} rejected rows:")
        st.dataframe(
            [{"Row": e["row"] if e["row"] is not None else "—", "Column": e["column"] or "—", "Problem": e["message"]}
             for e in job.errors],
            hide_index=True, width="stretch", key="import_errors",
        )


st.subheader("Import a CSV")
st.markdown(
    "Header row required. Columns: **event_type** (required), `lead_id`, `timestamp` (RFC3339, e.g. "
    "`2025-08-15T12:00:00Z`), `metadata` (a JSON object), `source`, and the alias columns "
    "`external_id`, `email`, `phone`, `cookie`, `social` (each row needs `lead_id` or an alias). Up to "
    "1,000,000 rows; the import goes on if you leave this page."
)
upload = st.file_uploader("CSV file", type=["csv"], disabled=not user.can_edit, key="import_file")
if upload is not None and st.button("Import", type="primary", disabled=not user.can_edit, key="import_run"):
    st.session_state[PENDING] = {"name": upload.name, "data": upload.getvalue()}
    st.session_state.pop(DUPLICATE, None)
    start(allow_duplicate=False)

if st.session_state.get(DUPLICATE) and st.session_state.get(PENDING):
    st.warning(
        f"**{st.session_state[PENDING]['name']} was imported before.** {st.session_state[DUPLICATE]} "
        "Importing it again stores every event a second time and adds its points to the scores again."
    )
    anyway, cancel = st.columns([1, 4])
    if anyway.button("Import anyway", key="import_anyway", disabled=not user.can_edit):
        start(allow_duplicate=True)
        st.rerun()
    if cancel.button("Cancel", key="import_cancel"):
        st.session_state.pop(PENDING, None)
        st.session_state.pop(DUPLICATE, None)
        st.rerun()

job_id: str | None = st.session_state.get(JOB)
if job_id:
    shown: str = job_id
    running = data.import_job(user.tenant, shown).status == "running"

    @st.fragment(run_every=1.0 if running else None)
    def progress_panel() -> None:
        job = data.import_job(user.tenant, shown)
        if job.status == "running":
            total = job.total_rows or 0
            st.progress(job.processed_rows / max(1, total),
                        text=f"Importing {job.filename}: {job.processed_rows:,} of {total:,} rows read, "
                             f"{job.accepted:,} imported, {job.rejected:,} rejected")
            return
        if not st.session_state.get(SEEN_DONE):
            st.session_state[SEEN_DONE] = True
            data.invalidate()  # the other screens show the imported events at once
            if running:  # stop polling: a full rerun redefines this panel without run_every
                st.rerun()
        show_result(job)

    progress_panel()

st.subheader("Export")
st.caption(
    "Every event of this unit, in the order they were logged (also GET /v1/events/export in the API). "
    "Cells that a spreadsheet would run as a formula get a leading '."
)
if st.button("Prepare CSV export", key="export_prepare"):
    st.session_state["export_csv"] = data.export_events_csv(user.tenant)
if st.session_state.get("export_csv"):
    st.download_button("Download events.csv", st.session_state["export_csv"], file_name="events.csv",
                       mime="text/csv", key="export_download")
