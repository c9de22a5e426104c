using System.Buffers.Binary;
using ClP2p.Eth2.Enr;
using ClP2p.Eth2.Networks;

namespace ClP2p.Eth2.Ssz;

public enum SszError
{
    None,
    WrongLength,
    TooLong,
    InvalidBitvectorPadding,
}
