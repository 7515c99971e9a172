"""Enquiry records: every exchange, by bot or agent, buffered durably then written to SQL."""
