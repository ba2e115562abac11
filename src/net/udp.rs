//! [`UdpSocket`], the mirror of [`std::net::UdpSocket`].

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use greenshim_shim::fd::table::Interest;
use greenshim_shim::sys::socket::{self as sock, RawAddr};

use crate::net::resolve::{each_addr, resolve};
use crate::net::{Managed, socket_impls};

/// A UDP socket; mirrors [`std::net::UdpSocket`].
pub struct UdpSocket(Managed<std::net::UdpSocket>);

socket_impls!(UdpSocket, std::net::UdpSocket);

impl UdpSocket {
    /// Binds to `addr`, each resolved address in turn; mirrors [`std::net::UdpSocket::bind`].
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let addrs = resolve(addr)?;
        std::net::UdpSocket::bind(&addrs[..]).map(UdpSocket::from)
    }

    /// Receives one datagram and its sender, parking until one arrives; mirrors
    /// [`std::net::UdpSocket::recv_from`].
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0
            .io_fd(Interest::Read, |fd| sock::recv_from(fd, buf, false))
    }

    /// Reads the next datagram without consuming it; mirrors
    /// [`std::net::UdpSocket::peek_from`].
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0
            .io_fd(Interest::Read, |fd| sock::recv_from(fd, buf, true))
    }

    /// Sends a datagram to the first address `addr` resolves to; mirrors
    /// [`std::net::UdpSocket::send_to`].
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let Some(to) = resolve(addr)?.into_iter().next() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no addresses to send data to",
            ));
        };
        let to = RawAddr::from_ip(&to);
        self.0
            .io_fd(Interest::Write, |fd| sock::send_to(fd, buf, &to))
    }

    /// The connected peer; mirrors [`std::net::UdpSocket::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().peer_addr()
    }

    /// The local address; mirrors [`std::net::UdpSocket::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }

    /// A second handle to the socket; mirrors [`std::net::UdpSocket::try_clone`].
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        self.0
            .try_clone(std::net::UdpSocket::try_clone)
            .map(UdpSocket)
    }

    /// Sets `SO_BROADCAST`; mirrors [`std::net::UdpSocket::set_broadcast`].
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.0.get().set_broadcast(broadcast)
    }

    /// Reads `SO_BROADCAST`; mirrors [`std::net::UdpSocket::broadcast`].
    pub fn broadcast(&self) -> io::Result<bool> {
        self.0.get().broadcast()
    }

    /// Sets `IP_MULTICAST_LOOP`; mirrors [`std::net::UdpSocket::set_multicast_loop_v4`].
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.0.get().set_multicast_loop_v4(on)
    }

    /// Reads `IP_MULTICAST_LOOP`; mirrors [`std::net::UdpSocket::multicast_loop_v4`].
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.0.get().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`; mirrors [`std::net::UdpSocket::set_multicast_ttl_v4`].
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.0.get().set_multicast_ttl_v4(ttl)
    }

    /// Reads `IP_MULTICAST_TTL`; mirrors [`std::net::UdpSocket::multicast_ttl_v4`].
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.0.get().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`; mirrors [`std::net::UdpSocket::set_multicast_loop_v6`].
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.0.get().set_multicast_loop_v6(on)
    }

    /// Reads `IPV6_MULTICAST_LOOP`; mirrors [`std::net::UdpSocket::multicast_loop_v6`].
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.0.get().multicast_loop_v6()
    }

    /// Sets `IP_TTL`; mirrors [`std::net::UdpSocket::set_ttl`].
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.0.get().set_ttl(ttl)
    }

    /// Reads `IP_TTL`; mirrors [`std::net::UdpSocket::ttl`].
    pub fn ttl(&self) -> io::Result<u32> {
        self.0.get().ttl()
    }

    /// Joins an IPv4 multicast group; mirrors [`std::net::UdpSocket::join_multicast_v4`].
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.0.get().join_multicast_v4(multiaddr, interface)
    }

    /// Joins an IPv6 multicast group; mirrors [`std::net::UdpSocket::join_multicast_v6`].
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.0.get().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group; mirrors [`std::net::UdpSocket::leave_multicast_v4`].
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.0.get().leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group; mirrors [`std::net::UdpSocket::leave_multicast_v6`].
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.0.get().leave_multicast_v6(multiaddr, interface)
    }

    /// Connects to a remote address, each resolved address in turn; mirrors
    /// [`std::net::UdpSocket::connect`].
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let fd = self.0.fd();
        each_addr(addr, |a| {
            sock::connect(fd, &RawAddr::from_ip(a)).map(|_| ())
        })
    }

    /// Sends to the connected peer; mirrors [`std::net::UdpSocket::send`].
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .io_fd(Interest::Write, |fd| sock::send_stream(fd, buf))
    }

    /// Receives from the connected peer, parking until a datagram arrives; mirrors
    /// [`std::net::UdpSocket::recv`].
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .io_fd(Interest::Read, |fd| sock::recv_or_peek(fd, buf, false))
    }

    /// Reads the next datagram from the connected peer without consuming it; mirrors
    /// [`std::net::UdpSocket::peek`].
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .io_fd(Interest::Read, |fd| sock::recv_or_peek(fd, buf, true))
    }

    crate::net::managed::socket_state_methods!("std::net::UdpSocket");
    crate::net::managed::timeout_methods!("std::net::UdpSocket");
}
