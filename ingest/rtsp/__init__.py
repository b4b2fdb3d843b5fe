"""Reading cameras over RTSP ourselves: the client (RTSP over TCP, RTP interleaved), the SDP, and
depacketizers that release each access unit on its RTP marker bit."""
