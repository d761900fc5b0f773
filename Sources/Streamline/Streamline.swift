// Streamline module
