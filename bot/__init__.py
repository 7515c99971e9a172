"""patentdesk: a customer-service assistant for Chinese patent-procedure enquiries."""

__version__ = "0.1.0"
