"""Enquiry records: what every conversation was, by bot or agent, kept durably.

events.py (what producers put on the stream) -> buffer.py (XADD, or a spool file) ->
writer.py (stream -> SQL) -> episodes.py (which enquiry, who resolved it) over schema.py
(migrated by migrate.py); masking.py keeps personal data out, retention.py anonymises old
records; store.py reads them back, report.py and charts.py summarise them, cli.py is
`patentdesk records` and `patentdesk report`.
"""
