"""What WeChat and our rules are made of: crypto, XML, pushes, messages, replies, tickets, tokens,
grants, WeChat's answers and errors. No I/O, no AWS, no HTTP."""
