"""What runs: the supervisor behind `patentdesk run`, the spec of each child process
(Redis, action server, Rasa, gateway, simulator), training, a private Rasa for `ask`,
`shell` and the tests, and the entry points of the Rasa server and the action server."""
