"""Knowledge written in the agent console (issue 15's feedback loop): drafts, review,
publication and withdrawal in the records database; the served knowledge base as the
files plus the published entries; export to knowledge/*.yml; the action server's
background rebuild and swap."""
