"""Users and passwords, and the services gate every UI/API request passes."""
